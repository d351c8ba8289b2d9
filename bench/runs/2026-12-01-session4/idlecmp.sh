#!/bin/bash
cd /work/main && set -a && . .cache/local/infra.env && set +a
for round in 1 2; do
  for code in /work/main /work/wt/idle; do
    echo "=== round $round trickle batch 2 code $code load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)"
    .venv/bin/python bench/e2e.py --code $code --rate 100 --batch 2 --concurrency 32 --learners 3000 --timeout 120 --idle-seconds 10 2>&1 | grep -v "^ *[0-9.]*s  accepted"
  done
  for code in /work/main /work/wt/idle; do
    echo "=== round $round rate 100 default batch code $code load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)"
    .venv/bin/python bench/e2e.py --code $code --rate 100 --learners 3000 --timeout 120 --idle-seconds 10 2>&1 | grep -v "^ *[0-9.]*s  accepted"
  done
done
echo "=== done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
