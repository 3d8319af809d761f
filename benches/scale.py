"""Issue 7 scaling table: the nightly report (`spanlens report --by route`,
the windows of spark.py) at 1M, 10M and 100M spans on day-partitioned
Parquet (`spanlens ingest --partition day`), and at 10M from flat JSONL;
wall time, peak RSS and throughput of the spanlens process, with DuckDB's
DIY job (duckdb_reports + duckdb_drift_compare) on the same Parquet files
in the same run. Sizes above 10M are several 10M lakes (seeds 7, 8, ...)
read together. spanlens runs streamed (frame::stream, `SPANLENS_STREAM_SPANS=0`)
at every size, and in memory too up to 20M spans (past that it streams anyway).

usage: python3 benches/scale.py [SIZE...]   (default 1000000 10000000 100000000)
Both tools start from a warm page cache (warm()). Needs /usr/bin/time; e2e.setup builds the release binaries (SPANLENS_FEATURES=spark
builds them as CI does, reusing that build) and installs DuckDB into BENCH_VENV.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import e2e  # noqa: E402

WINDOWS = ["--baseline", "2026-01-01..2026-01-08", "--current", "2026-01-08..2026-01-09"]
TEN_M = 10_000_000


def lakes(n, sl, gen):
    """the lakes holding n spans (one of n, or n / 10M of 10M)"""
    if n <= TEN_M:
        e2e.SPANS = n
        flat = e2e.setup(formats=("flat",))["flat"]
        lake = e2e.DATA / f"lake-{n}"
        if not lake.exists():
            e2e.sh([sl, "-q", "ingest", str(flat), "-o", str(lake), "--partition", "day"])
        return [lake], flat
    out = []
    for i in range(n // TEN_M):
        seed = 7 + i
        lake = e2e.DATA / (f"lake-{TEN_M}" if seed == 7 else f"lake-{TEN_M}-s{seed}")
        if not lake.exists():
            flat = e2e.DATA / f"spans-{TEN_M}-s{seed}.jsonl"
            e2e.sh([gen, "--spans", str(TEN_M), "--seed", str(seed), "--format", "flat",
                    "-o", str(flat)])
            e2e.sh([sl, "-q", "ingest", str(flat), "-o", str(lake), "--partition", "day"])
            flat.unlink()
        out.append(lake)
    return out, None


def warm(paths):
    """Read every file under `paths` once, so that both tools start from a
    warm page cache (100M spans are 4.8 GB, well inside the machine's RAM).
    Cold, the first queries to touch a column read it from disk in small
    random reads: on this machine's disk that made a 100M run 2.8x slower
    (1,153 s against 408 s), and it would favour whichever tool ran second."""
    n = 0
    for root in paths:
        files = ([str(root)] if os.path.isfile(root) else
                 [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs])
        for f in files:
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 23):
                    n += len(chunk)
    print(f"warmed the page cache: {n / 2**30:.1f} GiB", file=sys.stderr)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000, TEN_M, 10 * TEN_M]
    e2e.SPANS = min(sizes)
    e2e.setup(formats=())
    sl = str(e2e.TARGET / "release" / "spanlens")
    gen = str(e2e.TARGET / "release" / "spanlens-gen")
    py = str(e2e.VENV / "bin" / "python")
    rows = []
    for n in sizes:
        ls, flat = lakes(n, sl, gen)
        warm(ls)
        out = e2e.DATA / "report-scale"
        report = [sl, "-q", "report", "--by", "route", *WINDOWS, "-o", str(out) + ".md",
                  "--out-dir", str(out)]
        cmd = report[:3] + [str(x) for x in ls] + report[3:]
        # streamed at every size (the 100M path), and in memory where it fits
        os.environ["SPANLENS_STREAM_SPANS"] = "0"
        ts, ms = e2e.timed(cmd)
        del os.environ["SPANLENS_STREAM_SPANS"]
        t, m = e2e.timed(cmd) if n <= 2 * TEN_M else (None, None)
        glob = (f"{e2e.DATA}/lake-{TEN_M}*/spans/**/*.parquet" if n > TEN_M
                else f"{ls[0]}/spans/**/*.parquet")
        t1, m1 = e2e.timed([py, str(e2e.BENCH / "duckdb_reports.sql.py"), "parquet", glob])
        t2, m2 = e2e.timed([py, str(e2e.BENCH / "duckdb_drift_compare.sql.py"), "parquet", glob,
                            "2026-01-01", "2026-01-08", "2026-01-09"])
        rows.append((n, "Parquet, streamed", ts, ms, t1 + t2, max(m1, m2)))
        if t is not None:
            rows.append((n, "Parquet, in memory", t, m, t1 + t2, max(m1, m2)))
        if flat is not None and n == TEN_M:
            warm([flat])
            tj, mj = e2e.timed(report[:3] + [str(flat)] + report[3:])
            rows.append((n, "flat JSONL", tj, mj, None, None))
    print(f"\nspanlens report vs DuckDB DIY, median of {e2e.REPS}, {os.cpu_count()} cores")
    print(f"{'spans':>12} {'input':18} {'spanlens s':>10} {'peak MiB':>9} {'Mspans/s':>9} "
          f"{'duckdb s':>9} {'peak MiB':>9} {'spanlens/duckdb':>15}")
    for n, kind, t, m, td, md in rows:
        ratio = f"{t / td:15.2f}" if td else f"{'':>15}"
        tds = f"{td:9.1f}" if td else f"{'':>9}"
        mds = f"{md:9.0f}" if md else f"{'':>9}"
        print(f"{n:>12,} {kind:18} {t:10.1f} {m:9.0f} {n / t / 1e6:9.2f} {tds} {mds} {ratio}")


if __name__ == "__main__":
    main()
