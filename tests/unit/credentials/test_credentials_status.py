"""Bitstring Status List: decoding, and the status check of verify_credential over supplied documents."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import (
    DocumentFailure,
    DocumentSet,
    did_key,
    did_key_verification_method,
    generate_key,
    sign_credential,
    verify_credential,
)
from shared.credentials.status import (
    MAX_LIST_BYTES,
    StatusListError,
    decode_bitstring,
    encode_bitstring,
    parse_entry,
    read_status,
)

from .samples import STATUS_LIST_URL, status_list_credential, with_status

VALIDATOR_CASES = Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases"


def test_bits_are_read_most_significant_first() -> None:
    bits = bytes([0b0001_0000, 0b0000_0001])
    assert [read_status(bits, i) for i in range(16)] == [0, 0, 0, 1] + [0] * 11 + [1]
    assert read_status(decode_bitstring(encode_bitstring(bits)), 3) == 1
    with pytest.raises(StatusListError) as info:
        read_status(bits, 16)
    assert info.value.code == "status.index_out_of_range"


def test_the_1edtech_test_list_has_bit_23_set() -> None:
    testlist = json.loads((VALIDATOR_CASES / "bit-string-list" / "testlist").read_text(encoding="utf-8"))
    bits = decode_bitstring(testlist["credentialSubject"]["encodedList"])
    assert len(bits) * 8 == 131_072
    assert [i for i in range(64) if read_status(bits, i)] == [23]


def test_malformed_and_hostile_lists_are_refused() -> None:
    for bad in (None, "", "u!!!", "u" + "A" * 8):
        with pytest.raises(StatusListError):
            decode_bitstring(bad)
    bomb = encode_bitstring(bytes(MAX_LIST_BYTES + 1))
    assert len(bomb) < 40_000  # small on the wire...
    with pytest.raises(StatusListError, match="larger"):
        decode_bitstring(bomb)  # ...but refused before it fills memory


@pytest.mark.parametrize("index", ["23", 23])
def test_entry_index_string_or_integer(index: object) -> None:
    entry = {
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": index,
        "statusListCredential": STATUS_LIST_URL,
    }
    assert parse_entry(entry).index == 23


@pytest.mark.parametrize("index", ["-1", "x", -1, True, None])
def test_entry_bad_index(index: object) -> None:
    entry = {
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": index,
        "statusListCredential": STATUS_LIST_URL,
    }
    with pytest.raises(StatusListError):
        parse_entry(entry)


def _sign(doc: dict[str, Any], key: Ed25519PrivateKey, at: datetime, **kwargs: Any) -> dict[str, Any]:
    return sign_credential(doc, key, did_key_verification_method(key), at, **kwargs)


@pytest.fixture
def status_case(unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime) -> Any:
    def make(index: int, purpose: str = "revocation", list_key: Ed25519PrivateKey | None = None, **list_kwargs: Any):
        credential = _sign(with_status(unsigned_credential, index, purpose=purpose), issuer_key, signed_at)
        signer = list_key or issuer_key
        unsigned_list = status_list_credential(did_key(signer), set_indices=(5,), purpose=purpose, **list_kwargs)
        status_list = _sign(unsigned_list, signer, signed_at, check_structure=False)
        return credential, status_list

    return make


def _check(credential: dict[str, Any], documents: DocumentSet | None, now: datetime) -> tuple[set[str], Any]:
    report = verify_credential(credential, now=now, documents=documents)
    return report.codes(), report


def test_active_revoked_and_suspended(status_case: Any, now: datetime) -> None:
    credential, status_list = status_case(4)
    codes, report = _check(credential, DocumentSet.of({STATUS_LIST_URL: status_list}), now)
    assert codes == set() and report.verified and report.status == "active"
    assert [c.code for c in report.checks if c.check == "status"] == ["status.active"]

    credential, status_list = status_case(5)
    codes, report = _check(credential, DocumentSet.of({STATUS_LIST_URL: status_list}), now)
    assert codes == {"status.revoked"} and not report.verified and report.status == "revoked"

    credential, status_list = status_case(5, purpose="suspension")
    codes, report = _check(credential, DocumentSet.of({STATUS_LIST_URL: status_list}), now)
    assert codes == {"status.suspended"} and report.status == "suspended"


def test_status_is_undetermined_never_valid_without_the_list(status_case: Any, now: datetime) -> None:
    credential, _ = status_case(4)
    for documents in (
        DocumentSet(),
        DocumentSet(failures={STATUS_LIST_URL: DocumentFailure(STATUS_LIST_URL, "unavailable", "timed out")}),
        DocumentSet(failures={STATUS_LIST_URL: DocumentFailure(STATUS_LIST_URL, "not_found", "404")}),
    ):
        codes, report = _check(credential, documents, now)
        assert codes == {"status.unavailable"}
        assert not report.verified and report.status == "undetermined"
    # Not asked for (no documents at all): reported as skipped, visibly.
    codes, report = _check(credential, None, now)
    assert report.verified and report.status is None
    assert [(c.outcome, c.code) for c in report.checks if c.check == "status"] == [("skipped", "status.not_checked")]


def test_untrustworthy_lists_make_the_status_undetermined(status_case: Any, now: datetime) -> None:
    credential, foreign = status_case(5, list_key=generate_key())
    assert _check(credential, DocumentSet.of({STATUS_LIST_URL: foreign}), now)[0] == {"status.issuer_mismatch"}

    credential, status_list = status_case(5)
    forged = copy.deepcopy(status_list)
    forged["credentialSubject"]["encodedList"] = encode_bitstring(bytes(16_384))  # "nobody is revoked"
    assert _check(credential, DocumentSet.of({STATUS_LIST_URL: forged}), now)[0] == {"status.list_unverified"}

    credential, expired = status_case(5, valid_until="2026-02-01T00:00:00Z")
    assert _check(credential, DocumentSet.of({STATUS_LIST_URL: expired}), now)[0] == {"status.list_unverified"}


def test_out_of_range_index_and_purpose_mismatch(
    status_case: Any,
    unsigned_credential: dict[str, Any],
    issuer_key: Ed25519PrivateKey,
    signed_at: datetime,
    now: datetime,
) -> None:
    credential, status_list = status_case(200_000)
    assert _check(credential, DocumentSet.of({STATUS_LIST_URL: status_list}), now)[0] == {"status.index_out_of_range"}
    credential = _sign(with_status(unsigned_credential, 5, purpose="suspension"), issuer_key, signed_at)
    _, revocation_list = status_case(5)
    codes = _check(credential, DocumentSet.of({STATUS_LIST_URL: revocation_list}), now)[0]
    assert codes == {"status.purpose_mismatch"}


def test_unsupported_status_type_is_undetermined(
    unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime, now: datetime
) -> None:
    doc = {
        **unsigned_credential,
        "credentialStatus": {"id": "https://uni.example/rl#1", "type": "https://example.org/SomeStatus2099"},
    }
    report = verify_credential(doc, now=now, documents=DocumentSet())
    assert "status.unsupported_type" in report.codes()
