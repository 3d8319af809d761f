"""The nightly report on day-partitioned Parquet: the local engine against
Spark Connect (local[2] on this machine) and DuckDB's DIY jobs (issue 6).
One run, same files, median of REPS; peak RSS is the spanlens (or DuckDB)
process only, not the Spark JVM.

usage: SPARK_REMOTE=sc://127.0.0.1:PORT python3 benches/spark.py [SPANS [CHUNKS]]
With CHUNKS > 1 the lake is CHUNKS ingest outputs of SPANS spans each
(seeds 7, 8, ...; the same 8 days), read together: a set larger than the
local engine holds in memory, so only Spark and DuckDB run on it.
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
    chunks = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    lakes = [e2e.DATA / f"lake-{e2e.SPANS}"]
    if not lakes[0].exists():
        e2e.sh([sl, "-q", "ingest", str(files["flat"]), "-o", str(lakes[0]), "--partition", "day"])
    gen = str(e2e.TARGET / "release" / "spanlens-gen")
    for seed in range(8, 7 + chunks):
        lake = e2e.DATA / f"lake-{e2e.SPANS}-s{seed}"
        lakes.append(lake)
        if lake.exists():
            continue
        flat = e2e.DATA / f"spans-{e2e.SPANS}-s{seed}.jsonl"
        e2e.sh([gen, "--spans", str(e2e.SPANS), "--seed", str(seed), "--format", "flat", "-o", str(flat)])
        e2e.sh([sl, "-q", "ingest", str(flat), "-o", str(lake), "--partition", "day"])
        flat.unlink()
    report = [sl, "-q", "report", *map(str, lakes), "--by", "route", *WINDOWS,
              "--percentiles", "log-bucket", "-o", str(e2e.DATA / "report-spark.md"),
              "--out-dir", str(e2e.DATA / "report-spark")]
    rows = []
    if chunks == 1:
        t_local, m_local = e2e.timed(report)
        rows.append(("spanlens report, local engine", t_local, m_local, ""))
    # e.g. MAX_ROWS=4000000 past ~1M traces a window (anomaly_traces is per trace)
    cap = ["--max-rows", os.environ["MAX_ROWS"]] if os.environ.get("MAX_ROWS") else []
    t_spark, m_spark = e2e.timed(report + ["--engine", "spark", "--remote", remote, *cap])
    rows.append(("spanlens report, Spark local[2]", t_spark, m_spark,
                 f"{t_spark / t_local:.2f}x local" if chunks == 1 else ""))
    glob = f"{e2e.DATA}/lake-{e2e.SPANS}*/spans/**/*.parquet" if chunks > 1 \
        else f"{lakes[0]}/spans/**/*.parquet"
    t1, m1 = e2e.timed([py, str(e2e.BENCH / "duckdb_reports.sql.py"), "parquet", glob])
    t2, m2 = e2e.timed([py, str(e2e.BENCH / "duckdb_drift_compare.sql.py"), "parquet", glob,
                        "2026-01-01", "2026-01-08", "2026-01-09"])
    rows.append(("duckdb DIY (4 sections)", t1 + t2, max(m1, m2),
                 f"local report / DuckDB = {t_local / (t1 + t2):.2f}" if chunks == 1
                 else f"Spark report / DuckDB = {t_spark / (t1 + t2):.2f}"))
    print(f"\n{e2e.SPANS * chunks:,} spans, day-partitioned Parquet, median of {e2e.REPS}, "
          f"{os.cpu_count()} cores")
    print(f"{'tool':34} {'wall s':>8} {'peak MiB':>9}")
    for tool, t, m, extra in rows:
        print(f"{tool:34} {t:8.2f} {m:9.0f}  {extra}")


if __name__ == "__main__":
    main()
