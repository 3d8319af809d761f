"""Per-query peak memory of one spanlens run: runs the command with
SPANLENS_TIMINGS=queries and SPANLENS_STREAM_SPANS=0 (streamed), and prints
the process peak RSS (VmHWM) after each query line; + marks a rise > 200 MiB.

usage: python3 benches/query_memory.py SPANLENS_BINARY ARGS...
"""
import subprocess, sys, time, os
cmd = sys.argv[1:]
env = dict(os.environ, SPANLENS_TIMINGS="queries", SPANLENS_STREAM_SPANS="0")
p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
t0 = time.time()
def hwm():
    try:
        for l in open(f"/proc/{p.pid}/status"):
            if l.startswith("VmHWM"): return int(l.split()[1]) // 1024
    except Exception: return -1
last = 0
for line in p.stderr:
    h = hwm()
    print(f"{time.time()-t0:7.1f}s hwm {h:6d} MiB {'+' if h > last + 200 else ' '} {line.rstrip()}", flush=True)
    last = max(last, h)
p.wait()
print("exit", p.returncode)
