"""End-to-end benchmark of `spanlens report` (the nightly job) against each
section run on its own, and DuckDB's DIY jobs on the same files (one run,
same machine; issue 5's bar: report <= 1.3x its slowest single section).

usage: python3 benches/report.py [SPANS]      (default 1000000)
Reuses benches/e2e.py's setup (venv with duckdb, generated files: 8 days
from 2026-01-01).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import e2e  # noqa: E402

WINDOWS = ["--baseline", "2026-01-01..2026-01-08", "--current", "2026-01-08..2026-01-09"]


def main():
    files = e2e.setup()
    sl = str(e2e.TARGET / "release" / "spanlens")
    py = str(e2e.VENV / "bin" / "python")
    parquet = e2e.DATA / f"spans-{e2e.SPANS}.parquet"
    if not parquet.exists():
        e2e.sh([sl, "-q", "ingest", str(files["flat"]), "-o", str(parquet)])
    out = e2e.DATA / "report-out"
    rows = []
    for fmt, f in {"flat": files["flat"], "parquet": parquet}.items():
        sections = {
            "slo": [sl, "-q", "slo", str(f), "--by", "route", *WINDOWS, "--format", "json"],
            "cost": [sl, "-q", "cost", str(f), "--by", "route", *WINDOWS, "--format", "json"],
            "drift": [sl, "-q", "drift", str(f), "--by", "route", *WINDOWS, "--format", "json"],
            "compare": [sl, "-q", "compare", str(f), "--by", "route", "--candidate",
                        "latest:prompt_version", "--format", "json"],
            "anomalies": [sl, "-q", "anomalies", str(f), "--by", "route", *WINDOWS, "--format", "json"],
        }
        times = {}
        for name, cmd in sections.items():
            t, m = e2e.timed(cmd)
            times[name] = t
            rows.append((fmt, f"spanlens {name}", t, m, ""))
        t, m = e2e.timed([sl, "-q", "report", str(f), "--by", "route", *WINDOWS,
                          "-o", str(e2e.DATA / "report.md"), "--out-dir", str(out)])
        slowest = max(times, key=times.get)
        rows.append((fmt, "spanlens report", t, m,
                     f"{t / times[slowest]:.2f}x the slowest section ({slowest}), "
                     f"{t / sum(times.values()):.2f}x all five"))
        if fmt == "parquet":
            b0, c0, c1 = "2026-01-01", "2026-01-08", "2026-01-09"
            t1, m1 = e2e.timed([py, str(e2e.BENCH / "duckdb_reports.sql.py"), "parquet", str(f)])
            t2, m2 = e2e.timed([py, str(e2e.BENCH / "duckdb_drift_compare.sql.py"), "parquet",
                                str(f), b0, c0, c1])
            rows.append((fmt, "duckdb DIY (4 sections)", t1 + t2, max(m1, m2),
                         f"spanlens report / DuckDB = {t / (t1 + t2):.2f}"))
    print(f"\n{e2e.SPANS:,} spans, median of {e2e.REPS}, {os.cpu_count()} cores")
    print(f"{'input':8} {'tool':26} {'wall s':>8} {'peak MiB':>9}")
    for fmt, tool, t, m, extra in rows:
        print(f"{fmt:8} {tool:26} {t:8.2f} {m:9.0f}  {extra}")


if __name__ == "__main__":
    main()
