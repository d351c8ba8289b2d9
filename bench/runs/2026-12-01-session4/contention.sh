#!/bin/bash
cd /work/main
for round in 1 2; do
  for spin in no yes; do
    [ $spin = yes ] && /work/benchlogs/spin.sh start
    echo "=== round $round 1 replica, spinners $spin load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)"
    CPU_QUOTA=0.2 make bench-e2e BENCH_E2E_ARGS="--burst --learners 6000 --timeout 300" 2>&1 | grep -v "^ *[0-9.]*s  accepted"
    [ $spin = yes ] && /work/benchlogs/spin.sh stop
  done
  echo "=== round $round 2 replicas load $(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M:%S)"
  CPU_QUOTA=0.2 ENROLLMENT_REPLICAS=2 ASSESSMENT_REPLICAS=2 ISSUER_REPLICAS=2 make bench-e2e BENCH_E2E_ARGS="--burst --learners 6000 --timeout 300" 2>&1 | grep -v "^ *[0-9.]*s  accepted"
done
echo "=== done $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
