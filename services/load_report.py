"""What `credstream load` measured, and the table it prints. Pure: numbers in, text out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of unsorted `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class LockWaits:
    """Lock requests of the credstream database's sessions not granted yet (pg_locks), sampled during the run."""

    samples: int = 0
    samples_waiting: int = 0
    max_waiting: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # lock type (relation, transactionid, tuple…) → samples


@dataclass
class LoadReport:
    plan: dict[str, Any]
    learners: int
    accepted: int  # learners whose activities were all accepted (202) before the run's time was up
    badges: int
    duplicates: int  # credentials beyond the first for a learner (one award → one credential: should be 0)
    rejected_requests: int  # requests answered other than 2xx after retries (their learners cannot get a badge)
    offering_s: float  # first request sent → last request accepted
    drain_s: float | None  # last request accepted → last badge (None: not every learner was offered and issued)
    elapsed_s: float  # first request sent → last badge (or the timeout)
    latencies_s: list[float] = field(repr=False, default_factory=list)  # per badge: LMS 202 → badge-issued
    max_lag: dict[str, int] = field(default_factory=dict)  # topic → highest consumer lag seen
    final_lag: dict[str, int] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # process (group) → CPU seconds during the run
    cpu_window_s: float = 0.0  # how long the CPU readings span
    idle_cpu_per_s: dict[str, float] = field(default_factory=dict)  # CPU s/s each used idle, just before the run
    lock_waits: LockWaits | None = None
    redelivered: int = 0  # badge records announcing a credential again (at-least-once publishing)
    loadavg_before: str = ""
    loadavg_after: str = ""

    @property
    def badges_per_s(self) -> float:
        return self.badges / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def accepted_per_s(self) -> float:
        return self.accepted / self.offering_s if self.offering_s > 0 else 0.0

    def cpu_ms_per_badge(self) -> dict[str, float]:
        if not self.badges:
            return {}
        return {name: 1000 * seconds / self.badges for name, seconds in self.cpu_s.items()}

    def cpu_ms_per_badge_above_idle(self) -> dict[str, float]:
        """CPU per badge minus what the process burns idle (polling, timers) over the same time: the cost of the
        work itself, which idle costs would otherwise swamp in a slow run."""
        if not self.badges or not self.idle_cpu_per_s:
            return {}
        return {
            name: 1000 * (seconds - self.idle_cpu_per_s.get(name, 0.0) * self.cpu_window_s) / self.badges
            for name, seconds in self.cpu_s.items()
        }

    def summary(self) -> dict[str, Any]:
        """Everything, JSON-ready (latencies summarised, not listed)."""
        data = asdict(self)
        data.pop("latencies_s")
        data.update(
            badges_per_s=round(self.badges_per_s, 2),
            learners_accepted_per_s=round(self.accepted_per_s, 2),
            latency_s={
                name: None if value is None else round(value, 3)
                for name, value in (
                    ("p50", percentile(self.latencies_s, 0.5)),
                    ("p90", percentile(self.latencies_s, 0.9)),
                    ("p99", percentile(self.latencies_s, 0.99)),
                    ("max", max(self.latencies_s, default=None)),
                )
            },
            cpu_ms_per_badge={name: round(ms, 2) for name, ms in self.cpu_ms_per_badge().items()},
            cpu_ms_per_badge_above_idle={name: round(ms, 2) for name, ms in self.cpu_ms_per_badge_above_idle().items()},
        )
        return data


def render(report: LoadReport) -> str:
    """A plain-text table, readable in a terminal and pasteable into bench/README.md."""
    summary = report.summary()
    plan = report.plan
    offered = "burst" if plan.get("rate") is None else f"{plan['rate']:g} badges/s"
    latency = summary["latency_s"]
    rows: list[tuple[str, str]] = [
        ("offered", f"{report.learners} learners, {plan.get('tenants', 1)} tenant(s), {offered}, "
                    f"batch {plan.get('batch')}, {'+'.join(plan.get('formats', []))}"),
        ("badges", f"{report.badges}/{report.learners}"
                   + (f"  ({report.duplicates} DUPLICATE credentials)" if report.duplicates else "")
                   + (f"  ({report.redelivered} records announced again)" if report.redelivered else "")
                   + (f"  ({report.rejected_requests} requests refused)" if report.rejected_requests else "")),
        ("badges/s", f"{report.badges_per_s:.1f}  (first request → last badge, {report.elapsed_s:.1f} s)"),
        ("accepted learners/s", f"{report.accepted_per_s:.1f}  ({report.accepted}/{report.learners} accepted in "
                                f"{report.offering_s:.1f} s)"),
        ("drain after last 202", "not drained in time (--timeout): CPU per badge includes work on badges still "
                                 "pending" if report.drain_s is None else f"{report.drain_s:.1f} s"),
        ("LMS 202 → badge-issued", "  ".join(f"{k} {_seconds(v)}" for k, v in latency.items())
                                   + ("" if report.drain_s is not None else "  (of the badges that arrived)")),
    ]  # fmt: skip
    for topic in sorted(set(report.max_lag) | set(report.final_lag)):
        rows.append((f"lag {topic}", f"max {report.max_lag.get(topic, 0)}, at end {report.final_lag.get(topic, 0)}"))
    per_badge = report.cpu_ms_per_badge()
    above_idle = report.cpu_ms_per_badge_above_idle()
    if per_badge:

        def total(values: dict[str, float]) -> float:
            return sum(ms for name, ms in values.items() if not name.startswith("load"))

        idle = f", {total(above_idle):.2f} above idle" if above_idle else ""
        rows.append(("CPU-ms per badge", f"{total(per_badge):.2f} total{idle} (every process below but the load "
                                         "generator)"))  # fmt: skip
        for name, ms in per_badge.items():
            idle = f", {above_idle[name]:.2f} above idle" if name in above_idle and not name.startswith("load") else ""
            rows.append((f"  {name}", f"{ms:.2f}{idle}  ({report.cpu_s[name]:.1f} CPU-s)"))
    if report.lock_waits is not None:
        waits = report.lock_waits
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(waits.by_kind.items())) or "none"
        rows.append(
            (
                "pg lock waits",
                f"{waits.samples_waiting}/{waits.samples} samples with a session waiting, max {waits.max_waiting} "
                f"at once ({kinds})",
            )
        )
    rows += [("load average before", report.loadavg_before), ("load average after", report.loadavg_after)]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def merge_counts(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for name, count in counts.items():
        into[name] = into.get(name, 0) + count
