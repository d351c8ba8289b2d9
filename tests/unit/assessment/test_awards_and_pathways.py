"""Award ids, renewal periods and pathway cycle detection (pure)."""

import uuid
from datetime import UTC, datetime, timedelta

from services.assessment.awards import NextAward, PriorAward, award_id, next_award
from services.assessment.pathways import find_cycle

T0 = datetime(2026, 1, 10, tzinfo=UTC)


def test_award_id_is_deterministic_per_learner_achievement_and_period() -> None:
    assert award_id("acme", "l1", "python") == award_id("acme", "l1", "python", 0)
    assert award_id("acme", "l1", "python") != award_id("acme", "l2", "python")
    assert award_id("acme", "l1", "python") != award_id("other", "l1", "python")
    assert award_id("acme", "l1", "python", 1) not in {
        award_id("acme", "l1", "python"),
        award_id("acme", "l1", "python", 2),
    }


def test_the_first_award_keeps_the_walking_skeletons_id() -> None:
    # The skeleton's formula, so awards (and credential ids derived from them) made before renewal keep their ids.
    skeleton = uuid.uuid5(uuid.UUID("b0c1f3d2-8a7e-4c55-9d0e-3f5a6b7c8d90"), "acme\x1fl1\x1fpython")
    assert award_id("acme", "l1", "python") == skeleton == uuid.UUID("929ac20c-b8ce-52a9-ba1b-f1bc7f8a85fb")


def test_without_renewal_there_is_one_award() -> None:
    assert next_award([], None) == NextAward(period=0, since=None)
    assert next_award([PriorAward(0, T0)], None) is None


def test_renewal_opens_a_period_after_the_latest_award() -> None:
    assert next_award([], 365) == NextAward(0, None)
    assert next_award([PriorAward(0, T0)], 365) == NextAward(1, T0 + timedelta(days=365))
    later = T0 + timedelta(days=400)
    assert next_award([PriorAward(1, later), PriorAward(0, T0)], 365) == NextAward(2, later + timedelta(days=365))


def test_cycles_are_found_with_their_path() -> None:
    assert find_cycle({"p": {"a", "b"}, "a": set(), "b": set()}) is None
    assert find_cycle({"p": {"q"}, "q": {"r"}, "r": set()}) is None
    assert find_cycle({"p": {"p"}}) == ["p", "p"]
    assert find_cycle({"p": {"q"}, "q": {"r"}, "r": {"p"}}) == ["p", "q", "r", "p"]
    assert find_cycle({"x": {"p"}, "p": {"q"}, "q": {"p"}}) == ["p", "q", "p"]
    # A shared component (a diamond) is not a cycle.
    assert find_cycle({"top": {"l", "r"}, "l": {"base"}, "r": {"base"}, "base": set()}) is None
