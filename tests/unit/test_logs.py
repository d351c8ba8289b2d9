"""Logging: aiokafka's reconnect noise during a broker outage is a rate-limited WARNING; everything else passes."""

import logging

from shared.logs import BrokerReconnectFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(name: str, level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_reconnect_errors_become_rate_limited_warnings_that_count_what_they_held_back() -> None:
    clock = Clock()
    gate = BrokerReconnectFilter(interval=10, clock=clock)
    shown = []
    for second in range(25):
        clock.now = second
        for _ in range(100):  # what aiokafka does while the broker is down: many a second
            line = record("aiokafka", logging.ERROR, "Unable connect to node with id %s: %s", 1, "refused")
            if gate.filter(line):
                shown.append(line)
    assert len(shown) == 3  # at 0 s, 10 s and 20 s
    assert {line.levelno for line in shown} == {logging.WARNING}
    assert shown[1].getMessage() == "Unable connect to node with id 1: refused (999 more like this since the last one)"


def test_formatted_messages_are_matched_and_each_template_has_its_own_budget() -> None:
    gate = BrokerReconnectFilter(interval=10, clock=lambda: 0.0)
    heartbeat = record(
        "aiokafka.consumer.group_coordinator",
        logging.ERROR,
        "Error sending %s to node %s [%s] -- marking coordinator dead",
        "HeartbeatRequest",
        1,
        "NodeNotReadyError",
    )
    fetch = record("aiokafka.consumer.fetcher", logging.ERROR, "Failed fetch messages from %s: %s", 1, "x")
    assert gate.filter(heartbeat) and heartbeat.levelno == logging.WARNING
    assert gate.filter(fetch) and fetch.levelno == logging.WARNING


def test_other_errors_keep_their_level_and_other_loggers_are_untouched() -> None:
    gate = BrokerReconnectFilter(interval=10, clock=lambda: 0.0)
    unexpected = record("aiokafka.producer", logging.ERROR, "Unexpected error in sender routine")
    assert gate.filter(unexpected) and unexpected.levelno == logging.ERROR
    ours = [record("shared.messaging.kafka", logging.ERROR, "consumer.dead_lettered") for _ in range(5)]
    assert all(gate.filter(line) for line in ours)
    assert all(line.levelno == logging.ERROR for line in ours)
