"""`credstream load`'s local probes: which addresses are on this machine, and CPU counted per process tree."""

import os
import subprocess
import sys
import time

import psutil

from services.load_probes import ProcessGroups, local_port


def test_only_loopback_addresses_are_read_locally() -> None:
    assert local_port("http://127.0.0.1:8001") == 8001
    assert local_port("localhost:19092", 9092) == 19092
    assert local_port("127.0.0.1", 9092) == 9092
    assert local_port("postgresql://u:p@127.0.0.1:16132/db") == 16132
    assert local_port("http://credstream.example:8001") is None


def test_a_child_that_has_exited_still_counts_for_its_parent_group_and_a_named_child_only_for_its_own() -> None:
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    groups = ProcessGroups()
    groups.add("me", os.getpid())
    before = groups.cpu_seconds()["me"]
    subprocess.run([sys.executable, "-c", burn], check=True)  # reaped: its time moves into our children times
    # Children's times are counted in clock ticks (10 ms), the child's own clock is finer: allow one tick less.
    assert groups.cpu_seconds()["me"] - before >= 0.29

    mine = groups.cpu_seconds()["me"]
    child = subprocess.Popen([sys.executable, "-c", burn + "\nimport time; time.sleep(30)"])
    try:
        groups.add("child", child.pid)
        while sum(psutil.Process(child.pid).cpu_times()[:2]) < 0.3:
            time.sleep(0.2)
        assert groups.cpu_seconds()["child"] >= 0.29
        # The living child counts for its own group only (polling it costs "me" far less than its 0.3 s).
        assert groups.cpu_seconds()["me"] - mine < 0.3
    finally:
        child.kill()
        child.wait()
