"""Capped exponential back-off with jitter, for waiting out an outage (database or broker) without hammering it."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """Pauses of first, 2*first, 4*first ... up to `cap` seconds while failures last; `reset()` after a success.

    Each pause is drawn from [d/2, d] ("equal jitter"): replicas that all saw the same outage begin at the same
    instant, and would otherwise retry in lock-step against a server that is just coming back.
    """

    first: float = 0.5
    cap: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.first * 2 ** min(self.failures, 32))
        self.failures += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0
