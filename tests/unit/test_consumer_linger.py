"""Batch subscribers linger after a small poll only: never when the poll was empty (idle) or large (busy)."""

from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.messaging import kafka_batch
from shared.messaging.kafka_batch import linger_after_small_polls


@dataclass
class Subscriber:
    polls: list[tuple[Any, ...]]

    async def get_msg(self, consumer: Any) -> tuple[Any, ...]:
        return self.polls.pop(0)


@dataclass
class Consumer:
    later: dict[str, list[str]]
    asked: list[dict[str, int]] = field(default_factory=list)

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        self.asked.append({"timeout_ms": timeout_ms, "max_records": max_records})
        return self.later


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(kafka_batch.asyncio, "sleep", sleep)
    return slept


async def test_a_small_poll_waits_and_takes_what_arrived_in_partition_order(sleeps: list[float]) -> None:
    subscriber = Subscriber([("p0-1", "p1-1")])
    consumer = Consumer({"p0": ["p0-2", "p0-3"], "p1": ["p1-2"]})
    linger_after_small_polls(subscriber, linger_ms=50, max_records=10, small=4)
    assert await subscriber.get_msg(consumer) == ("p0-1", "p1-1", "p0-2", "p0-3", "p1-2")
    assert sleeps == [0.05]
    assert consumer.asked == [{"timeout_ms": 0, "max_records": 8}]  # never more than a batch in all


@pytest.mark.parametrize("poll", [(), tuple(f"r{n}" for n in range(4))], ids=["idle", "busy"])
async def test_an_empty_or_large_poll_is_handled_at_once(sleeps: list[float], poll: tuple[str, ...]) -> None:
    subscriber = Subscriber([poll])
    consumer = Consumer({"p0": ["late"]})
    linger_after_small_polls(subscriber, linger_ms=50, max_records=10, small=4)
    assert await subscriber.get_msg(consumer) == poll
    assert sleeps == [] and consumer.asked == []


async def test_no_linger_configured_means_no_wait(sleeps: list[float]) -> None:
    subscriber = Subscriber([("r1",)])
    consumer = Consumer({"p0": ["late"]})
    linger_after_small_polls(subscriber, linger_ms=0, max_records=10)
    assert await subscriber.get_msg(consumer) == ("r1",)
    assert sleeps == [] and consumer.asked == []


def test_the_setting_bounds_the_wait() -> None:
    from pydantic import ValidationError

    from shared.settings import Settings

    assert Settings(_env_file=None).consumer_linger_ms == 100
    assert Settings(_env_file=None, CREDSTREAM_CONSUMER_LINGER_MS="0").consumer_linger_ms == 0
    with pytest.raises(ValidationError):
        Settings(_env_file=None, CREDSTREAM_CONSUMER_LINGER_MS="5000")
