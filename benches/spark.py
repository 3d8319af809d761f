"""The nightly report on day-partitioned Parquet: the local engine against
Spark Connect (local[2] on this machine) and DuckDB's DIY jobs (issue 6).
One run, same files, median of REPS; peak RSS is the spanlens (or DuckDB)
process only, not the Spark JVM.

usage: SPARK_REMOTE=sc://127.0.0.1:PORT python3 benches/spark.py [SPANS]
Needs a release build with `--features spark` in CARGO_TARGET_DIR and a
server (`.ci/spark-connect CACHE_DIR` starts one). Reuses benches/e2e.py's
generated flat JSONL (8 days from 2026-01-01). For large sets give the
server memory: SPARK_DRIVER_MEMORY=8g .ci/spark-connect CACHE_DIR.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import e2e  # noqa: E402

WINDOWS = ["--baseline", "2026-01-01..2026-01-08", "--current", "2026-01-08..2026-01-09"]


def main():
    remote = os.environ.get("SPARK_REMOTE")
    if not remote:
        sys.exit("spark.py: set SPARK_REMOTE=sc://HOST:PORT")
    os.environ.setdefault("SPANLENS_FEATURES", "spark")
    files = e2e.setup(formats=("flat",))
    sl = str(e2e.TARGET / "release" / "spanlens")
    py = str(e2e.VENV / "bin" / "python")
    lake = e2e.DATA / f"lake-{e2e.SPANS}"
    if not lake.exists():
        e2e.sh([sl, "-q", "ingest", str(files["flat"]), "-o", str(lake), "--partition", "day"])
    report = [sl, "-q", "report", str(lake), "--by", "route", *WINDOWS,
              "--percentiles", "log-bucket", "-o", str(e2e.DATA / "report-spark.md"),
              "--out-dir", str(e2e.DATA / "report-spark")]
    rows = []
    t_local, m_local = e2e.timed(report)
    rows.append(("spanlens report, local engine", t_local, m_local, ""))
    t_spark, m_spark = e2e.timed(report + ["--engine", "spark", "--remote", remote])
    rows.append(("spanlens report, Spark local[2]", t_spark, m_spark,
                 f"{t_spark / t_local:.2f}x local"))
    glob = f"{lake}/spans/**/*.parquet"
    t1, m1 = e2e.timed([py, str(e2e.BENCH / "duckdb_reports.sql.py"), "parquet", glob])
    t2, m2 = e2e.timed([py, str(e2e.BENCH / "duckdb_drift_compare.sql.py"), "parquet", glob,
                        "2026-01-01", "2026-01-08", "2026-01-09"])
    rows.append(("duckdb DIY (4 sections)", t1 + t2, max(m1, m2),
                 f"local report / DuckDB = {t_local / (t1 + t2):.2f}"))
    print(f"\n{e2e.SPANS:,} spans, day-partitioned Parquet, median of {e2e.REPS}, "
          f"{os.cpu_count()} cores")
    print(f"{'tool':34} {'wall s':>8} {'peak MiB':>9}")
    for tool, t, m, extra in rows:
        print(f"{tool:34} {t:8.2f} {m:9.0f}  {extra}")


if __name__ == "__main__":
    main()
