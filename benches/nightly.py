"""Issue 23's table: `spanlens report` beside the nightly job done by hand in
DuckDB (benches/duckdb_diy.py), one run, same files, whole process, median
of REPS, peak RSS from /usr/bin/time -v; then the incremental night: a
lake holding days 1-7 (`spanlens ingest --partition day`) and day 8 as
tonight's JSONL, `spanlens report LAKE day8.jsonl` beside the same report
re-reading all 8 days of JSONL and DuckDB re-reading them.

usage: python3 benches/nightly.py [SPANS]      (default 1000000)
Reuses benches/e2e.py's setup (venv with duckdb, generated files: 8 days
from 2026-01-01, seed 7).
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import e2e  # noqa: E402

B0, C0, C1 = "2026-01-01", "2026-01-08", "2026-01-09"
WINDOWS = ["--baseline", f"{B0}..{C0}", "--current", f"{C0}..{C1}"]
DAY8_NS = 1767830400 * 10**9  # 2026-01-08T00:00:00Z


def warm(*paths):
    for p in paths:
        for f in ([p] if p.is_file() else sorted(p.rglob("*"))):
            if f.is_file():
                with open(f, "rb") as h:
                    while h.read(1 << 24):
                        pass


def split_day8(flat):
    """days 1-7 and day 8 of the flat export, by span start"""
    old, new = e2e.DATA / f"days1-7-{e2e.SPANS}.jsonl", e2e.DATA / f"day8-{e2e.SPANS}.jsonl"
    if not (old.exists() and new.exists()):
        rx = re.compile(rb'"start_time_unix_nano":(\d+)')
        ta, tb = old.with_suffix(".tmp"), new.with_suffix(".tmp")
        with open(flat, "rb") as f, open(ta, "wb") as a, open(tb, "wb") as b:
            for line in f:
                m = rx.search(line)
                if m:
                    (a if int(m.group(1)) < DAY8_NS else b).write(line)
        # a run killed midway leaves no half-written split behind
        ta.rename(old)
        tb.rename(new)
    return old, new


def main():
    files = e2e.setup()
    sl = str(e2e.TARGET / "release" / "spanlens")
    py = str(e2e.VENV / "bin" / "python")
    diy = str(e2e.BENCH / "duckdb_diy.py")
    parquet = e2e.DATA / f"spans-{e2e.SPANS}.parquet"
    if not parquet.exists():
        e2e.sh([sl, "-q", "ingest", str(files["flat"]), "-o", str(parquet)])
    out = e2e.DATA / "nightly-out"
    rows = []

    def report(*inputs):
        return e2e.timed([sl, "-q", "report", *map(str, inputs), "--by", "route", *WINDOWS,
                          "-o", str(e2e.DATA / "nightly.md"), "--out-dir", str(out)])

    for fmt, f in [("flat JSONL", files["flat"]), ("canonical Parquet", parquet),
                   ("OTLP/JSON lines", files["otlp"])]:
        kind = {"flat JSONL": "flat", "canonical Parquet": "parquet"}.get(fmt, "otlp")
        warm(f)
        t, m = report(f)
        td, md = e2e.timed([py, diy, kind, str(f), B0, C0, C1])
        rows.append((fmt, f.stat().st_size / 1e6, t, m, td, md))

    old, new = split_day8(files["flat"])
    lake = e2e.DATA / f"lake7-{e2e.SPANS}"
    if lake.exists():
        shutil.rmtree(lake)
    e2e.sh([sl, "-q", "ingest", str(old), "--partition", "day", "-o", str(lake)])
    warm(lake, new, files["flat"])
    ti, mi = report(lake, new)
    tf, mf = report(files["flat"])
    td, md = e2e.timed([py, diy, "flat", str(files["flat"]), B0, C0, C1])

    print(f"\n{e2e.SPANS:,} spans, median of {e2e.REPS}, {os.cpu_count()} cores")
    print("| input | spanlens report | DuckDB DIY | spanlens / DuckDB |")
    print("|---|---|---|---|")
    for fmt, mb, t, m, td_, md_ in rows:
        print(f"| {fmt}, {mb:,.0f} MB | {t:.2f} s, {m:,.0f} MiB | {td_:.2f} s, {md_:,.0f} MiB | "
              f"{t / td_:.2f}x the time, {m / md_:.2f}x the memory |")
    print("\nNight 8 (lake of days 1-7 + day 8 as JSONL):")
    print("| job | wall | peak RSS | / DuckDB re-reading 8 days |")
    print("|---|---|---|---|")
    print(f"| spanlens report LAKE day8.jsonl | {ti:.2f} s | {mi:,.0f} MiB | {ti / td:.2f}x |")
    print(f"| spanlens report all-8-days.jsonl | {tf:.2f} s | {mf:,.0f} MiB | {tf / td:.2f}x |")
    print(f"| DuckDB DIY over all-8-days.jsonl | {td:.2f} s | {md:,.0f} MiB | 1.00x |")


if __name__ == "__main__":
    main()
