"""What `credstream load` sends: learners who enrol and pass, grouped into LMS requests, on a schedule.

Pure: no I/O. Every learner earns exactly one badge (enrolled + a passing score), so badges/s offered is learners/s.
A learner's activities always travel in one request, or in consecutive requests of one sender, so the enrolment
is accepted before the score whatever the concurrency.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

ACHIEVEMENT_ID = "load-test"
ASSESSMENT_ID = "load-quiz"
PASS_MARK = 50
XAPI_HOME = "https://lms.load.example"
XAPI_COURSE = f"{XAPI_HOME}/courses/load-test"
XAPI_QUIZ = f"{XAPI_HOME}/activities/load-quiz"
_XAPI_VERB = "http://adlnet.gov/expapi/verbs/"


class LmsFormat(StrEnum):
    """The LMS formats the generator speaks; each tenant uses one (round robin over those asked for)."""

    NATIVE = "native"
    XAPI = "xapi"


def achievement_definition() -> dict[str, Any]:
    """The Achievement every generated learner earns: one assessment with a pass mark."""
    return {
        "id": ACHIEVEMENT_ID,
        "name": "Load Test",
        "description": "Awarded to generated learners by `credstream load`.",
        "criteria": {
            "narrative": f"At least {PASS_MARK}% on the load quiz.",
            "required_assessments": [{"assessment_id": ASSESSMENT_ID, "min_score": PASS_MARK}],
        },
    }


def xapi_mappings() -> list[dict[str, str]]:
    """Mapping rules an xAPI connection needs: the course → the Achievement, the quiz → its assessment."""
    return [
        {"match": "exact", "lms_id": XAPI_COURSE, "achievement_id": ACHIEVEMENT_ID},
        {"match": "exact", "lms_id": XAPI_QUIZ, "assessment_id": ASSESSMENT_ID},
    ]


@dataclass(frozen=True)
class Learner:
    tenant_id: str
    learner_id: str
    format: LmsFormat

    @property
    def key(self) -> str:
        """How badge-issued records are keyed (`tenant:learner`)."""
        return f"{self.tenant_id}:{self.learner_id}"


@dataclass(frozen=True)
class LmsRequest:
    """One POST: the activities of some learners of one tenant, in one format."""

    tenant_id: str
    format: LmsFormat
    body: list[dict[str, Any]]
    completes: tuple[Learner, ...]  # learners whose last activity is in this request


@dataclass(frozen=True)
class Sender:
    """One unit of work for a sender: requests posted in order, each after the previous one was accepted."""

    at: float  # seconds after the start when it is offered
    requests: tuple[LmsRequest, ...]


@dataclass(frozen=True)
class LoadPlan:
    learners: int = 300
    tenants: int = 1
    rate: float | None = 50.0  # badges (= learners) offered per second; None: everything at once (a burst)
    batch: int = 20  # activities per request
    formats: tuple[LmsFormat, ...] = (LmsFormat.NATIVE,)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    tenant_prefix: str = "load"
    tenant_names: tuple[str, ...] = ()  # given tenants (e.g. those LMS keys were given for) instead of generated

    def __post_init__(self) -> None:
        if self.learners < 1 or self.tenants < 1 or self.batch < 1:
            raise ValueError("learners, tenants and batch must be at least 1")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("rate must be positive (or None for a burst)")
        if not self.formats:
            raise ValueError("give at least one format")

    @property
    def tenant_ids(self) -> list[str]:
        if self.tenant_names:
            return [self.tenant_names[i % len(self.tenant_names)] for i in range(self.tenants)]
        return [f"{self.tenant_prefix}-{i + 1}" for i in range(self.tenants)]

    def tenant_format(self, index: int) -> LmsFormat:
        return self.formats[index % len(self.formats)]

    @property
    def learners_per_request(self) -> int:
        return max(1, self.batch // 2)

    @property
    def offering_seconds(self) -> float:
        """How long offering takes at the planned rate (0 for a burst)."""
        return 0.0 if self.rate is None else self.learners / self.rate


def learners(plan: LoadPlan) -> list[Learner]:
    """Learners spread round robin over the tenants, with ids unique to this run."""
    tenants = plan.tenant_ids
    return [
        Learner(tenants[i % len(tenants)], f"{plan.run_id}-{i}", plan.tenant_format(i % len(tenants)))
        for i in range(plan.learners)
    ]


def senders(plan: LoadPlan, now: datetime | None = None) -> Iterator[Sender]:
    """The schedule: groups of learners of one tenant, offered `group size / rate` seconds apart."""
    occurred = (now or datetime.now(UTC)) - timedelta(minutes=5)
    everyone = learners(plan)
    by_tenant: dict[str, list[Learner]] = {}
    for learner in everyone:
        by_tenant.setdefault(learner.tenant_id, []).append(learner)
    per_group = plan.learners_per_request
    groups: list[list[Learner]] = []
    # Interleave tenants so that every tenant is under load for the whole run.
    chunks = {t: [ls[i : i + per_group] for i in range(0, len(ls), per_group)] for t, ls in by_tenant.items()}
    for round_ in range(max(len(c) for c in chunks.values())):
        groups.extend(c[round_] for c in chunks.values() if round_ < len(c))
    offered = 0
    for group in groups:
        at = 0.0 if plan.rate is None else offered / plan.rate
        offered += len(group)
        yield Sender(at, tuple(_requests(group, plan.batch, occurred)))


def _requests(group: Sequence[Learner], batch: int, occurred: datetime) -> Iterator[LmsRequest]:
    first = group[0]
    items = [(learner, activity) for learner in group for activity in _activities(learner, occurred)]
    last = {learner.key: i for i, (learner, _) in enumerate(items)}
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        # The learners whose final activity is in this request: their badge can follow its 202.
        done = tuple(learner for i, (learner, _) in enumerate(chunk, start) if last[learner.key] == i)
        yield LmsRequest(first.tenant_id, first.format, [activity for _, activity in chunk], done)


def _activities(learner: Learner, occurred: datetime) -> list[dict[str, Any]]:
    if learner.format is LmsFormat.XAPI:
        return _xapi(learner, occurred)
    base = {"tenant_id": learner.tenant_id, "learner_id": learner.learner_id}
    return [
        {
            **base,
            "learner_name": f"Learner {learner.learner_id}",
            "event_id": f"{learner.learner_id}-enrolled",
            "kind": "enrolled",
            "achievement_id": ACHIEVEMENT_ID,
            "occurred_at": occurred.isoformat(),
        },
        {
            **base,
            "event_id": f"{learner.learner_id}-scored",
            "kind": "scored",
            "assessment_id": ASSESSMENT_ID,
            "score": 90,
            "max_score": 100,
            "occurred_at": (occurred + timedelta(minutes=1)).isoformat(),
        },
    ]


def _xapi(learner: Learner, occurred: datetime) -> list[dict[str, Any]]:
    actor = {"objectType": "Agent", "account": {"homePage": XAPI_HOME, "name": learner.learner_id}}

    def statement(verb: str, activity: str, when: datetime, **extra: Any) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{learner.key}/{verb}")),
            "actor": actor,
            "verb": {"id": _XAPI_VERB + verb},
            "object": {"objectType": "Activity", "id": activity},
            "timestamp": when.isoformat(),
            **extra,
        }

    return [
        statement("registered", XAPI_COURSE, occurred),
        statement(
            "scored",
            XAPI_QUIZ,
            occurred + timedelta(minutes=1),
            result={"score": {"raw": 90, "min": 0, "max": 100}},
        ),
    ]
