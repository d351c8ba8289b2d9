#!/bin/bash
cd /work/main
for round in 1 2 3 4; do
  for n in 1 2; do
    echo "=== round $round replicas $n load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S) commit $(git rev-parse --short HEAD)"
    CPU_QUOTA=0.2 ENROLLMENT_REPLICAS=$n ASSESSMENT_REPLICAS=$n ISSUER_REPLICAS=$n make bench-e2e BENCH_E2E_ARGS="--burst --learners 6000 --timeout 300" 2>&1 | grep -v "^ *[0-9.]*s  accepted"
  done
done
echo "=== done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
