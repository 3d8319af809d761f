"""End-to-end benchmark of `spanlens slo` and `spanlens cost` against DuckDB
doing the same tables by hand (benches/duckdb_reports.sql.py), one run,
same machine, same files. Prints wall time, peak RSS and ratios.

usage: python3 benches/reports.py [SPANS]      (default 1000000)
Reuses benches/e2e.py's setup (venv with duckdb, generated files).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import e2e  # noqa: E402


def main():
    files = e2e.setup()
    sl = str(e2e.TARGET / "release" / "spanlens")
    py = str(e2e.VENV / "bin" / "python")
    parquet = e2e.DATA / f"spans-{e2e.SPANS}.parquet"
    if not parquet.exists():
        e2e.sh([sl, "-q", "ingest", str(files["flat"]), "-o", str(parquet)])
    inputs = {"flat": files["flat"], "otlp": files["otlp"], "parquet": parquet}
    rows = []
    for fmt, f in inputs.items():
        win = ["--current", "30d"]
        t_slo, m_slo = e2e.timed([sl, "-q", "slo", str(f), "--by", "route,model", *win, "--format", "json"])
        t_cost, m_cost = e2e.timed([sl, "-q", "cost", str(f), "--by", "route", *win, "--format", "json"])
        both = t_slo + t_cost
        rows.append((fmt, "spanlens slo", t_slo, m_slo, None))
        rows.append((fmt, "spanlens cost", t_cost, m_cost, None))
        if fmt in ("flat", "parquet"):
            t, m = e2e.timed([py, str(e2e.BENCH / "duckdb_reports.sql.py"), fmt, str(f)])
            rows.append((fmt, "duckdb DIY slo+cost", t, m, t / both))
    print(f"\n{e2e.SPANS:,} spans, median of {e2e.REPS}, {os.cpu_count()} cores")
    print(f"{'input':8} {'tool':22} {'wall s':>8} {'peak MiB':>9} {'duckdb / (slo+cost)':>20}")
    for fmt, tool, t, m, ratio in rows:
        r = f"{ratio:20.2f}" if ratio else ""
        print(f"{fmt:8} {tool:22} {t:8.2f} {m:9.0f} {r}")


if __name__ == "__main__":
    main()
