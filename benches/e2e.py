"""End-to-end ingest benchmark: spanlens vs DuckDB (read_json -> Parquet)
and tracelift (summarize) on the same generated files, one run, same machine.
Prints time ratios (peer / spanlens) and peak RSS from /usr/bin/time -v.

usage: python3 benches/e2e.py [SPANS]        (default 1000000)
Needs: cargo, /usr/bin/time; installs duckdb and tracelift into benches/.venv
(or the venv named by BENCH_VENV).
"""
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benches"
DATA = BENCH / "data"
VENV = Path(os.environ.get("BENCH_VENV", BENCH / ".venv"))
SPANS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
REPS = int(os.environ.get("REPS", "3"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def setup(formats=("otlp", "flat")):
    if not (VENV / "bin" / "python").exists():
        sh([sys.executable, "-m", "venv", str(VENV)])
    sh([str(VENV / "bin" / "pip"), "install", "-q", "duckdb", "tracelift"])
    features = os.environ.get("SPANLENS_FEATURES")
    # BENCH_NO_BUILD=1: measure the binaries already in CARGO_TARGET_DIR
    if os.environ.get("BENCH_NO_BUILD") != "1":
        sh(["cargo", "build", "--release", "--quiet", "--bin", "spanlens", "--bin", "spanlens-gen",
            *(["--features", features] if features else [])], cwd=ROOT)
    DATA.mkdir(exist_ok=True)
    files = {}
    for fmt, ext in [("otlp", "otlp.jsonl"), ("flat", "jsonl")]:
        if fmt not in formats:
            continue
        p = DATA / f"spans-{SPANS}.{ext}"
        if not p.exists():
            sh([str(TARGET / "release" / "spanlens-gen"), "--spans", str(SPANS), "--seed", "7", "--format", fmt, "-o", str(p)])
        files[fmt] = p
    return files


def timed(cmd):
    """median wall seconds and max peak RSS (MiB) over REPS runs"""
    walls, rss = [], []
    for _ in range(REPS):
        r = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
        h, mi, s = m.groups()
        walls.append(int(h or 0) * 3600 + int(mi) * 60 + float(s))
        rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) / 1024)
    return statistics.median(walls), max(rss)


def main():
    files = setup()
    sl = str(TARGET / "release" / "spanlens")
    py = str(VENV / "bin" / "python")
    out = DATA / "out.parquet"
    rows = []
    for fmt in ["otlp", "flat"]:
        f = files[fmt]
        size = f.stat().st_size / 1e6
        t_sl, m_sl = timed([sl, "-q", "ingest", str(f), "-o", str(out)])
        rows.append((fmt, "spanlens ingest", size, t_sl, m_sl, 1.0))
        t, m = timed([py, str(BENCH / "duckdb_ingest.sql.py"), fmt, str(f), str(DATA / "duck.parquet")])
        rows.append((fmt, "duckdb read_json->parquet", size, t, m, t / t_sl))
        if fmt == "otlp":
            t, m = timed([str(VENV / "bin" / "tracelift"), "summarize", "--format", "otlp", str(f)])
            rows.append((fmt, "tracelift summarize", size, t, m, t / t_sl))
    print(f"\n{SPANS:,} spans, median of {REPS}, {os.cpu_count()} cores")
    print(f"{'input':6} {'tool':28} {'MB':>7} {'wall s':>8} {'MB/s':>8} {'peak MiB':>9} {'x spanlens time':>16}")
    for fmt, tool, size, t, m, ratio in rows:
        print(f"{fmt:6} {tool:28} {size:7.0f} {t:8.2f} {size / t:8.0f} {m:9.0f} {ratio:16.1f}")


if __name__ == "__main__":
    main()
