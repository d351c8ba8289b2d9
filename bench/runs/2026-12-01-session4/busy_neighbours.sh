#!/bin/bash
# start|stop N capped (0.2 CPU) busy processes with a few MB working set, to mimic the extra replicas' occupancy
case "$1" in
start)
  for i in 1 2 3; do
    d=/sys/fs/cgroup/cpu/credstream-spin$i; mkdir -p $d; echo 100000 > $d/cpu.cfs_period_us; echo 20000 > $d/cpu.cfs_quota_us
    python3 -c "
import json
d=[{'a':i,'b':str(i)*10,'c':[i,i+1]} for i in range(20000)]
while True: json.loads(json.dumps(d))" &
    echo $! > $d/cgroup.procs; echo $! >> /tmp/spin.pids
  done;;
stop)
  kill $(cat /tmp/spin.pids) 2>/dev/null; rm -f /tmp/spin.pids; sleep 0.5
  for i in 1 2 3; do rmdir /sys/fs/cgroup/cpu/credstream-spin$i 2>/dev/null; done;;
esac
