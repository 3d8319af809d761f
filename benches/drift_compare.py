"""End-to-end benchmark of `spanlens drift` and `spanlens compare` against
DuckDB doing PSI and a prompt-version comparison by hand
(benches/duckdb_drift_compare.sql.py), one run, same machine, same files.
Prints wall time, peak RSS, ratios, and spanlens' own phase timings
(SPANLENS_TIMINGS=1) to show the bootstrap's share of compare's time.

usage: python3 benches/drift_compare.py [SPANS]      (default 1000000)
Reuses benches/e2e.py's setup (venv with duckdb, generated files: 8 days
from 2026-01-01).
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import e2e  # noqa: E402

BASELINE = "2026-01-01..2026-01-08"
CURRENT = "2026-01-08..2026-01-09"


def phases(cmd):
    """spanlens' phase timings of one run: {phase: seconds}"""
    env = dict(os.environ, SPANLENS_TIMINGS="1")
    err = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stderr
    out = {}
    for line in err.splitlines():
        if "timing:" in line:
            name, rest = line.split("timing:", 1)[1].rsplit(" s ", 1)[0].rsplit(None, 1)
            out[name.strip()] = out.get(name.strip(), 0.0) + float(rest)
    return out


def main():
    files = e2e.setup()
    sl = str(e2e.TARGET / "release" / "spanlens")
    py = str(e2e.VENV / "bin" / "python")
    parquet = e2e.DATA / f"spans-{e2e.SPANS}.parquet"
    if not parquet.exists():
        e2e.sh([sl, "-q", "ingest", str(files["flat"]), "-o", str(parquet)])
    rows = []
    for fmt, f in {"flat": files["flat"], "parquet": parquet}.items():
        drift = [sl, "-q", "drift", str(f), "--by", "route", "--baseline", BASELINE,
                 "--current", CURRENT, "--format", "json"]
        compare = [sl, "-q", "compare", str(f), "--by", "route", "--candidate",
                   "latest:prompt_version", "--format", "json"]
        t_d, m_d = e2e.timed(drift)
        t_c, m_c = e2e.timed(compare)
        ph = phases(compare)
        boot = ph.get("bootstrap", 0.0)
        rows.append((fmt, "spanlens drift", t_d, m_d, None, ""))
        rows.append((fmt, "spanlens compare", t_c, m_c, None,
                     f"bootstrap {boot:.3f} s = {100 * boot / t_c:.1f}% of compare"))
        if fmt == "parquet":
            b0, c0 = BASELINE.split("..")[0], CURRENT.split("..")[0]
            c1 = CURRENT.split("..")[1]
            t, m = e2e.timed([py, str(e2e.BENCH / "duckdb_drift_compare.sql.py"), "parquet",
                              str(f), b0, c0, c1])
            rows.append((fmt, "duckdb DIY psi+compare", t, m, t / (t_d + t_c), ""))
    print(f"\n{e2e.SPANS:,} spans, median of {e2e.REPS}, {os.cpu_count()} cores")
    print(f"{'input':8} {'tool':24} {'wall s':>8} {'peak MiB':>9} {'duckdb/(drift+compare)':>23}")
    for fmt, tool, t, m, ratio, extra in rows:
        r = f"{ratio:23.2f}" if ratio else " " * 23
        print(f"{fmt:8} {tool:24} {t:8.2f} {m:9.0f} {r} {extra}")


if __name__ == "__main__":
    main()
