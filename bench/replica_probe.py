"""`bench/e2e.py --diagnose`: where a replica's CPU goes, per process and in the same windows as the load's figures.

Per service process (replica), for the idle sample and for the measured run: user and system CPU seconds (the
process and its descendants, e.g. a signing pool), context switches, and when capped its cgroup's CFS throttling;
each replica's batch sizes (`credstream_batch_records` on /metrics); SQL statements of the run's database by
statement (pg_stat_statements, when the server preloads it and the database has the extension).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.load_probes import ProcessGroups

CGROUP_CPU = Path("/sys/fs/cgroup/cpu")


def _process_times(pid: int) -> dict[str, float]:
    """user, system (with reaped children), voluntary and involuntary context switches of `pid` and its tree."""
    import psutil

    totals = {"user": 0.0, "system": 0.0, "voluntary": 0.0, "involuntary": 0.0}
    with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
        root = psutil.Process(pid)
        for process in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times, switches = process.cpu_times(), process.num_ctx_switches()
                totals["user"] += times.user + times.children_user
                totals["system"] += times.system + times.children_system
                totals["voluntary"] += switches.voluntary
                totals["involuntary"] += switches.involuntary
    return totals


def _throttling(cgroup: Path | None) -> dict[str, float]:
    if cgroup is None:
        return {}
    with contextlib.suppress(OSError):
        stat = dict(line.split() for line in (cgroup / "cpu.stat").read_text().splitlines())
        return {"periods": float(stat["nr_periods"]), "throttled": float(stat["nr_throttled"]),
                "throttled_s": float(stat["throttled_time"]) / 1e9}  # fmt: skip
    return {}


@dataclass
class ReplicaProbe(ProcessGroups):
    """ProcessGroups that also snapshots every replica's CPU detail whenever the load reads CPU: the last four
    readings are the idle sample's start and end and the run's start and end."""

    replicas: dict[str, int] = field(default_factory=dict)  # replica name → pid
    cgroups: dict[str, Path] = field(default_factory=dict)
    snapshots: list[dict[str, dict[str, float]]] = field(default_factory=list)

    def cpu_seconds(self) -> dict[str, float]:
        totals = super().cpu_seconds()
        reading = {
            name: {**_process_times(pid), **_throttling(self.cgroups.get(name))} for name, pid in self.replicas.items()
        }
        self.snapshots.append(reading)
        return totals

    def windows(self) -> dict[str, dict[str, dict[str, float]]]:
        """'idle' and 'run' → replica → what changed over that window."""
        if len(self.snapshots) < 4:
            return {}
        idle_start, idle_end, run_start, run_end = self.snapshots[-4:]

        def delta(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
            return {name: {k: b[name][k] - a[name].get(k, 0.0) for k in b[name]} for name in b if name in a}

        return {"idle": delta(idle_start, idle_end), "run": delta(run_start, run_end)}


_SAMPLE = re.compile(r'^credstream_batch_records_(sum|count)\{consumer="([^"]+)",topic="([^"]+)"\} ([0-9.e+]+)$')


async def batch_sizes(client: httpx.AsyncClient, urls: dict[str, str]) -> dict[str, dict[str, tuple[float, float]]]:
    """replica → 'consumer topic' → (batches, records), from each replica's /metrics."""
    found: dict[str, dict[str, tuple[float, float]]] = {}
    for name, url in urls.items():
        with contextlib.suppress(httpx.HTTPError):
            text = (await client.get(f"{url}/metrics")).text
            sums: dict[str, dict[str, float]] = {}
            for line in text.splitlines():
                if match := _SAMPLE.match(line):
                    kind, consumer, topic, value = match.groups()
                    sums.setdefault(f"{consumer} {topic}", {})[kind] = float(value)
            found[name] = {key: (v.get("count", 0.0), v.get("sum", 0.0)) for key, v in sums.items()}
    return found


async def statements(database_url: str) -> list[tuple[int, int, float, str]]:
    """(calls, rows, total ms, query) per statement of this database, most called first; [] without the extension."""
    import asyncpg

    from services.load_probes import asyncpg_dsn

    with contextlib.suppress(Exception):
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            rows = await connection.fetch(
                "SELECT calls, rows, total_exec_time, query FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY calls DESC"
            )
        finally:
            await connection.close()
        return [(r["calls"], r["rows"], r["total_exec_time"], r["query"]) for r in rows]
    return []


def render(
    windows: dict[str, dict[str, dict[str, float]]],
    batches: dict[str, dict[str, tuple[float, float]]],
    sql: list[tuple[int, int, float, str]],
    badges: int,
) -> str:
    lines = ["", "# per replica (idle window | run window): CPU-s user/system, ctx switches vol/invol, throttled"]
    for name in sorted(windows.get("run", {})):
        parts = []
        for window in ("idle", "run"):
            d: dict[str, Any] = windows.get(window, {}).get(name, {})
            throttle = f" thr {d['throttled']:.0f}/{d['periods']:.0f} {d['throttled_s']:.2f}s" if "periods" in d else ""
            parts.append(
                f"{d.get('user', 0):.2f}/{d.get('system', 0):.2f} cs {d.get('voluntary', 0):.0f}/"
                f"{d.get('involuntary', 0):.0f}{throttle}"
            )
        run = windows["run"][name]
        per_badge = (run["user"] + run["system"]) * 1000 / badges if badges else 0.0
        lines.append(f"{name:14} idle {parts[0]} | run {parts[1]} | {per_badge:.3f} ms/badge")
    lines.append("# batches per replica (batches, records, mean)")
    for name in sorted(batches):
        for key, (count, total) in sorted(batches[name].items()):
            lines.append(f"{name:14} {key:60} {count:7.0f} {total:8.0f} {total / count if count else 0:7.1f}")
    if sql:
        calls = sum(c for c, _r, _t, _q in sql)
        per_badge = calls / badges if badges else 0.0
        lines.append(f"# SQL statements in the run's database: {calls} ({per_badge:.2f} per badge)")
        for c, r, t, q in sql[:25]:
            lines.append(f"{c:8} {r:9} {t:9.0f}ms  {' '.join(q.split())[:110]}")
    return "\n".join(lines)
