#!/bin/bash
cd /work/main
for relay in 5 25 50 5 25 50; do
  echo "=== outbox linger $relay consumer linger 100 load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)+wt"
  CREDSTREAM_OUTBOX_LINGER_MS=$relay CREDSTREAM_CONSUMER_LINGER_MS=100 make bench-e2e BENCH_E2E_ARGS="--rate 100 --batch 2 --concurrency 32 --learners 3000 --timeout 120" 2>&1 | grep -v "^ *[0-9.]*s  accepted"
done
echo "=== done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
