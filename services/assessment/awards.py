"""Award identity and renewal: one award per learner, Achievement and renewal period. Pure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.ids import name_of

_AWARD_NAMESPACE = uuid.UUID("b0c1f3d2-8a7e-4c55-9d0e-3f5a6b7c8d90")


def award_id(tenant_id: str, learner_id: str, achievement_id: str, period: int = 0) -> uuid.UUID:
    """One award per learner per Achievement (per renewal period), whatever path or replica computes it.
    Period 0 keeps the walking skeleton's ids, so earlier awards and their credentials keep theirs."""
    parts = (tenant_id, learner_id, achievement_id, *((str(period),) if period else ()))
    return uuid.uuid5(_AWARD_NAMESPACE, name_of(*parts))


@dataclass(frozen=True)
class PriorAward:
    period: int
    awarded_at: datetime


@dataclass(frozen=True)
class NextAward:
    """The award that could be earned next, and from when evidence counts for it (None: any evidence)."""

    period: int
    since: datetime | None


def next_award(prior: Sequence[PriorAward], renewal_period_days: int | None) -> NextAward | None:
    """What can still be earned: the first award; or, when the Achievement renews, the next period.

    Renewal is rolling: period n+1 opens `renewal_period_days` after period n was awarded, and only evidence
    from that moment on counts (a pass before the renewal opened does not renew). Without renewal, one award ever.
    """
    if not prior:
        return NextAward(period=0, since=None)
    if renewal_period_days is None:
        return None
    latest = max(prior, key=lambda award: award.period)
    return NextAward(period=latest.period + 1, since=latest.awarded_at + timedelta(days=renewal_period_days))
