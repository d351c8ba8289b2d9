"""Batch subscribers' poll: linger after a small poll only — never when the poll was empty (idle) or large (busy) —
and no pause after an empty poll."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.messaging import kafka_batch
from shared.messaging.kafka_batch import POLL_TIMEOUT_MS, poll_with_linger


@dataclass
class Subscriber:
    """Stands for FastStream's batch subscriber: poll_with_linger replaces its get_msg."""

    async def get_msg(self, consumer: Any) -> tuple[Any, ...]:
        raise AssertionError("FastStream's own poll (it pauses after an empty poll) must not be used")


@dataclass
class Consumer:
    polls: list[dict[str, list[str]]]
    asked: list[dict[str, int]] = field(default_factory=list)

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        self.asked.append({"timeout_ms": timeout_ms, "max_records": max_records})
        return self.polls.pop(0)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(kafka_batch.asyncio, "sleep", sleep)
    return slept


async def test_a_small_poll_waits_and_takes_what_arrived_in_partition_order(sleeps: list[float]) -> None:
    subscriber = Subscriber()
    consumer = Consumer([{"p0": ["p0-1"], "p1": ["p1-1"]}, {"p0": ["p0-2", "p0-3"], "p1": ["p1-2"]}])
    poll_with_linger(subscriber, linger_ms=50, max_records=10, small=4)
    assert await subscriber.get_msg(consumer) == ("p0-1", "p1-1", "p0-2", "p0-3", "p1-2")
    assert sleeps == [0.05]
    assert consumer.asked == [
        {"timeout_ms": POLL_TIMEOUT_MS, "max_records": 10},
        {"timeout_ms": 0, "max_records": 8},  # never more than a batch in all
    ]


@pytest.mark.parametrize("poll", [{}, {"p0": [f"r{n}" for n in range(4)]}], ids=["idle", "busy"])
async def test_an_empty_or_large_poll_is_handled_at_once(sleeps: list[float], poll: dict[str, list[str]]) -> None:
    subscriber = Subscriber()
    consumer = Consumer([poll])
    poll_with_linger(subscriber, linger_ms=50, max_records=10, small=4)
    assert await subscriber.get_msg(consumer) == tuple(poll.get("p0", []))
    assert sleeps == []  # an empty poll is not followed by a pause either: the next poll waits for records itself
    assert len(consumer.asked) == 1


async def test_no_linger_configured_means_no_wait(sleeps: list[float]) -> None:
    subscriber = Subscriber()
    consumer = Consumer([{"p0": ["r1"]}])
    poll_with_linger(subscriber, linger_ms=0, max_records=10)
    assert await subscriber.get_msg(consumer) == ("r1",)
    assert sleeps == [] and len(consumer.asked) == 1


def test_the_setting_bounds_the_wait() -> None:
    from pydantic import ValidationError

    from shared.settings import Settings

    assert Settings(_env_file=None).consumer_linger_ms == 100
    assert Settings(_env_file=None, CREDSTREAM_CONSUMER_LINGER_MS="0").consumer_linger_ms == 0
    with pytest.raises(ValidationError):
        Settings(_env_file=None, CREDSTREAM_CONSUMER_LINGER_MS="5000")
