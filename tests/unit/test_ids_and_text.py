"""Unambiguous id names, the validated text types, and strict JSON for untrusted input."""

import json
import unicodedata
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from services.assessment.awards import award_id
from services.issuer.domain import learner_subject_id
from shared.contracts.text import Identifier, LmsText, Text
from shared.ids import name_of
from shared.untrusted_json import MAX_DEPTH, UntrustedJsonError, loads_untrusted

PARTS = st.lists(st.text(alphabet=st.sampled_from('ab\x1f[]"\\,'), max_size=4), min_size=2, max_size=4)


@given(PARTS, PARTS)
def test_different_tuples_never_share_a_name(a: list[str], b: list[str]) -> None:
    if a != b:
        assert name_of(*a) != name_of(*b)


def test_ordinary_ids_keep_the_names_and_uuids_they_always_had() -> None:
    assert name_of("acme", "l1", "python") == "acme\x1fl1\x1fpython"
    skeleton = uuid.uuid5(uuid.UUID("b0c1f3d2-8a7e-4c55-9d0e-3f5a6b7c8d90"), "acme\x1fl1\x1fpython")
    assert award_id("acme", "l1", "python") == skeleton


def test_a_learner_id_holding_the_separator_cannot_take_over_another_learners_award() -> None:
    # Learner "l1" renewing "python" (period 2) vs learner "l1<US>python" earning Achievement "2".
    assert award_id("acme", "l1", "python", 2) != award_id("acme", "l1\x1fpython", "2")
    assert learner_subject_id("acme", "l1\x1fx") != learner_subject_id("acme\x1fl1", "x")


TEXT = TypeAdapter(Text)
LMS_TEXT = TypeAdapter(LmsText)
IDENTIFIER = TypeAdapter(Identifier)
CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\t\n\r"]


@pytest.mark.parametrize("control", CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_text_refuses_control_characters_lms_text_replaces_them(control: str) -> None:
    with pytest.raises(ValidationError, match=f"U\\+{ord(control):04X}"):
        TEXT.validate_python(f"SQL{control}Essentials")
    assert LMS_TEXT.validate_python(f"Ada{control}Lovelace") == "Ada Lovelace"
    with pytest.raises(ValidationError):
        IDENTIFIER.validate_python(f"l{control}1")


def test_text_is_nfc_and_keeps_tabs_and_line_breaks_ids_stay_as_sent() -> None:
    decomposed = "Cafe\u0301"
    assert TEXT.validate_python(decomposed) == "Caf\u00e9"
    assert TEXT.validate_python("line one\nline two\tend\r\n") == "line one\nline two\tend\r\n"
    assert IDENTIFIER.validate_python(decomposed) == decomposed
    with pytest.raises(ValidationError):
        IDENTIFIER.validate_python("a\tb")
    with pytest.raises(ValidationError, match="lone surrogate"):
        TEXT.validate_python("x\ud800")


@given(st.text())
def test_lms_text_always_yields_storable_nfc_text(value: str) -> None:
    cleaned = LMS_TEXT.validate_python(value)
    cleaned.encode("utf-8")
    assert unicodedata.is_normalized("NFC", cleaned)
    TEXT.validate_python(cleaned)  # what LmsText lets through, Text accepts


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"score": NaN}', "NaN is not a JSON number"),
        (b'{"score": -Infinity}', "-Infinity is not a JSON number"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested deeper"),
        (b'{"a": "\\ud800"}', "lone surrogate (U+D800)"),
        (b'{"\\udc00": 1}', "lone surrogate (U+DC00)"),
        (b"\xff\xfe", "not"),
        (b'{"a": ', "not JSON"),
    ],
)
def test_untrusted_json_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(UntrustedJsonError, match=reason.replace("(", "\\(").replace(")", "\\)").replace("+", "\\+")):
        loads_untrusted(body)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_ordinary_json_decodes_as_it_always_did(value: object) -> None:
    assert loads_untrusted(json.dumps(value)) == value


def test_issuer_profiles_refuse_control_characters_and_are_nfc() -> None:
    from shared.settings import IssuerProfileConfig

    assert IssuerProfileConfig(name="E\u0301cole").name == "\u00c9cole"
    with pytest.raises(ValidationError, match="U\\+000B"):
        IssuerProfileConfig(name="Acme\x0bUniversity")
