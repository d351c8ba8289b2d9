"""Replaying dead letters: a truncated copy is never sent back as if it were the original record."""

from datetime import UTC, datetime

from shared.messaging.dead_letters import DeadLetter, replays, unreplayable


def _letter(offset: int, *extra: tuple[str, bytes]) -> DeadLetter:
    headers = (
        ("ce_id", b"e1"),
        ("dlq_reason", b"not JSON"),
        ("dlq_original_topic", b"credstream.lms-inbound.v1"),
        *extra,
    )
    return DeadLetter("credstream.lms-inbound.v1.dlq", 0, offset, datetime.now(UTC), b"k", b"{", headers)


def test_whole_copies_are_replayed_to_their_topic_without_dlq_headers() -> None:
    (replay,) = replays([_letter(1)])
    assert replay.topic == "credstream.lms-inbound.v1"
    assert replay.headers == (("ce_id", b"e1"),)


def test_truncated_copies_are_not_replayed_but_listed() -> None:
    whole, cut = _letter(1), _letter(2, ("dlq_value_truncated", b"1048000"))
    assert [r.source for r in replays([whole, cut])] == [whole]
    assert unreplayable([whole, cut]) == [cut]
