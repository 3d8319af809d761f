#!/bin/bash
# Issue 20's false-alarm rate: every day 8..27 of a spanlens-gen export
# with nothing planted, against the 7 days before it; prints per day the
# findings, the critical ones and their kinds, then the totals.
#
#   TARGET/debug/spanlens-gen --spans 250000 --days 28 --seed 1 --format parquet -o null.parquet
#   tests/reference/anomaly_null_days.sh TARGET/debug/spanlens null.parquet --by tenant
#
# Measured: seed 1 (250,000 spans): by route 0 findings in 20 days, by
# model 0, by tenant 3 (0 critical); seed 7 (500,000 spans): 0, 0, 0.
set -euo pipefail
B=$1; f=$2; shift 2
for d in $(seq 8 27); do
  c=$(date -u -d "2026-01-01 + $d days" +%F)
  b=$(date -u -d "2026-01-01 + $((d-7)) days" +%F)
  e=$(date -u -d "2026-01-01 + $((d+1)) days" +%F)
  "$B" anomalies "$f" "$@" --baseline "$b..$c" --current "$c..$e" --format json 2>/dev/null |
    python3 -c "
import json,sys
r=json.load(sys.stdin)['tables']['anomalies']
print('$c', len(r), sum(1 for x in r if x.get('severity')=='critical'), ';'.join(sorted(x['kind'] for x in r)))"
done | awk '{n+=$2; c+=($3>0); print} END {print "total", n, "findings; days with a critical one:", c}'
