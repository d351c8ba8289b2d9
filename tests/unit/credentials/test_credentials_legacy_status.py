"""StatusList2021Entry and 1EdTechRevocationList: decoding, and the status check of verify_credential."""

from __future__ import annotations

import base64
import contextlib
import copy
import gzip
from datetime import datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from shared.credentials import (
    DocumentFailure,
    DocumentSet,
    did_key,
    did_key_verification_method,
    generate_key,
    sign_credential,
    verify_credential,
)
from shared.credentials.legacy_status import (
    decode_status_list_2021,
    is_1edtech_revocation_list,
    revoked_in_1edtech_list,
)
from shared.credentials.status import MAX_LIST_BYTES, StatusListError, read_status

SL2021_CONTEXT = "https://w3id.org/vc/status-list/2021/v1"
DATA_INTEGRITY_CONTEXT = "https://w3id.org/security/data-integrity/v2"  # for the proof, under VC 1.1
LIST_URL = "https://uni.example/status/2021/1"
REVOCATION_LIST_URL = "https://uni.example/revocations"
OB_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
LIST_BYTES = 16_384  # 131,072 entries


def _encode(bits: bytes, alphabet: str = "url", padded: bool = False) -> str:
    """A Status List 2021 ``encodedList``: base64 of GZIP, no multibase prefix."""
    raw = gzip.compress(bits, mtime=0)
    text = (base64.urlsafe_b64encode if alphabet == "url" else base64.b64encode)(raw).decode("ascii")
    return text if padded else text.rstrip("=")


def _bits(*set_indexes: int) -> bytes:
    bits = bytearray(LIST_BYTES)
    for index in set_indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    return bytes(bits)


def _sign(doc: dict[str, Any], key: Ed25519PrivateKey, at: datetime, **kwargs: Any) -> dict[str, Any]:
    return sign_credential(doc, key, did_key_verification_method(key), at, **kwargs)


def _list_credential(issuer: str, purpose: str = "revocation", encoded: str | None = None) -> dict[str, Any]:
    return {
        # VC 1.1: the Status List 2021 context redefines `name`/`description`, which VC 2.0 protects.
        "@context": ["https://www.w3.org/2018/credentials/v1", SL2021_CONTEXT, DATA_INTEGRITY_CONTEXT],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "StatusList2021Credential"],
        "issuer": issuer,
        "issuanceDate": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "StatusList2021",
            "statusPurpose": purpose,
            "encodedList": encoded if encoded is not None else _encode(_bits(5)),
        },
    }


def _with_entry(credential: dict[str, Any], entry: dict[str, Any], context: str | None = None) -> dict[str, Any]:
    contexts = [*credential["@context"], *([context] if context else [])]
    return {**credential, "@context": contexts, "credentialStatus": entry}


def _status(report: Any) -> list[tuple[str, str]]:
    return [(c.outcome, c.code) for c in report.checks if c.check == "status"]


@pytest.fixture
def sl2021_case(unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime) -> Any:
    def make(index: int, purpose: str = "revocation", list_key: Ed25519PrivateKey | None = None, **list_kwargs: Any):
        entry = {
            "id": f"{LIST_URL}#{index}",
            "type": "StatusList2021Entry",
            "statusPurpose": purpose,
            "statusListIndex": str(index),
            "statusListCredential": LIST_URL,
        }
        credential = _sign(_with_entry(unsigned_credential, entry, SL2021_CONTEXT), issuer_key, signed_at)
        signer = list_key or issuer_key
        status_list = _sign(
            _list_credential(did_key(signer), purpose, **list_kwargs), signer, signed_at, check_structure=False
        )
        return credential, status_list

    return make


# --- Status List 2021 -------------------------------------------------------------------------------------------


def test_status_list_2021_decodes_either_alphabet_padded_or_not() -> None:
    bits = bytes([0xFB, 0xEF]) * 64  # both '+' and '/' (or '-' and '_') appear in its base64 form
    for alphabet in ("url", "standard"):
        for padded in (False, True):
            assert decode_status_list_2021(_encode(bits, alphabet, padded)) == bits
    assert [read_status(_bits(23), i) for i in (22, 23, 24)] == [0, 1, 0]


def test_status_list_2021_malformed_and_hostile_lists_are_refused() -> None:
    for bad in (None, "", "!!!!", "A" * 8, base64.b64encode(b"not gzip").decode(), _encode(b"")):
        with pytest.raises(StatusListError) as info:
            decode_status_list_2021(bad)
        assert info.value.code == "status.list_invalid"
    with pytest.raises(StatusListError, match="larger"):
        decode_status_list_2021(_encode(bytes(MAX_LIST_BYTES + 1)))


@given(st.binary(max_size=512))
def test_status_list_2021_decoder_never_crashes_on_arbitrary_bytes(data: bytes) -> None:
    for text in (base64.b64encode(data).decode(), data.decode("latin-1"), _encode(data)):
        with contextlib.suppress(StatusListError):
            decode_status_list_2021(text)


@given(st.text(max_size=256))
def test_status_list_2021_decoder_never_crashes_on_arbitrary_text(text: str) -> None:
    with contextlib.suppress(StatusListError):
        decode_status_list_2021(text)


def test_status_list_2021_active_revoked_and_suspended(sl2021_case: Any, now: datetime) -> None:
    credential, status_list = sl2021_case(4)
    report = verify_credential(credential, now=now, documents=DocumentSet.of({LIST_URL: status_list}))
    assert report.verified and report.status == "active" and _status(report) == [("passed", "status.active")]

    credential, status_list = sl2021_case(5)
    report = verify_credential(credential, now=now, documents=DocumentSet.of({LIST_URL: status_list}))
    assert report.codes() == {"status.revoked"} and report.status == "revoked" and not report.verified

    credential, status_list = sl2021_case(5, purpose="suspension")
    report = verify_credential(credential, now=now, documents=DocumentSet.of({LIST_URL: status_list}))
    assert report.codes() == {"status.suspended"} and report.status == "suspended"


def test_status_list_2021_untrustworthy_or_malformed_lists_make_the_status_undetermined(
    sl2021_case: Any, now: datetime
) -> None:
    credential, status_list = sl2021_case(5)
    forged = copy.deepcopy(status_list)
    forged["credentialSubject"]["encodedList"] = _encode(_bits())  # "nobody is revoked": its proof fails
    report = verify_credential(credential, now=now, documents=DocumentSet.of({LIST_URL: forged}))
    assert report.codes() == {"status.list_unverified"} and report.status == "undetermined"

    credential, foreign = sl2021_case(5, list_key=generate_key())
    report = verify_credential(credential, now=now, documents=DocumentSet.of({LIST_URL: foreign}))
    assert report.codes() == {"status.issuer_mismatch"}

    credential, malformed = sl2021_case(5, encoded="H4sI-not-a-gzip-stream")  # signed, but not a list
    report = verify_credential(credential, now=now, documents=DocumentSet.of({LIST_URL: malformed}))
    assert report.codes() == {"status.list_invalid"} and report.status == "undetermined"

    credential, _ = sl2021_case(5)
    failure = DocumentFailure(LIST_URL, "unavailable", "timed out")
    report = verify_credential(credential, now=now, documents=DocumentSet(failures={LIST_URL: failure}))
    assert report.codes() == {"status.unavailable"}

    credential, status_list = sl2021_case(200_000)
    report = verify_credential(credential, now=now, documents=DocumentSet.of({LIST_URL: status_list}))
    assert report.codes() == {"status.index_out_of_range"}


# --- 1EdTech Revocation List ------------------------------------------------------------------------------------


@pytest.fixture
def revocable(unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime) -> Any:
    entry = {"id": REVOCATION_LIST_URL, "type": "1EdTechRevocationList"}
    # The OB 3.0 extensions context defines the term (as .../vcrl/v1p0/context.json#1EdTechRevocationList).
    return _sign(_with_entry(unsigned_credential, entry, OB_EXTENSIONS_CONTEXT), issuer_key, signed_at)


def _revocation_list(*items: dict[str, Any], member: str = "revokedCredentials") -> dict[str, Any]:
    return {"id": REVOCATION_LIST_URL, "issuer": "https://uni.example", member: list(items)}


def test_1edtech_type_as_the_contexts_expand_it() -> None:
    assert is_1edtech_revocation_list(
        frozenset({"https://purl.imsglobal.org/spec/vcrl/v1p0/context.json#1EdTechRevocationList"})
    )
    assert is_1edtech_revocation_list(frozenset({"1EdTechRevocationList"}))
    assert not is_1edtech_revocation_list(frozenset({"https://example.org/vocab#Not1EdTechRevocationList"}))


def test_1edtech_revoked_active_and_revoked_false(revocable: dict[str, Any], now: datetime) -> None:
    own = {"id": revocable["id"], "revocationReason": "Issued in error"}
    other = {"id": "urn:uuid:00000000-0000-0000-0000-000000000000"}
    cases = [
        (_revocation_list(other, own), "revoked", {"status.revoked"}),
        (_revocation_list(other, own, member="revokedCredential"), "revoked", {"status.revoked"}),
        (_revocation_list(other), "active", set()),
        (_revocation_list({**own, "revoked": False}), "active", set()),
        (_revocation_list(), "active", set()),
    ]
    for revocation_list, word, codes in cases:
        report = verify_credential(revocable, now=now, documents=DocumentSet.of({REVOCATION_LIST_URL: revocation_list}))
        assert report.status == word and report.codes() == codes, revocation_list


def test_1edtech_unavailable_or_malformed_list_is_undetermined(revocable: dict[str, Any], now: datetime) -> None:
    report = verify_credential(revocable, now=now, documents=DocumentSet())
    assert report.codes() == {"status.unavailable"} and report.status == "undetermined" and not report.verified
    for malformed in ([], {"revokedCredentials": [{"reason": "no id"}]}, _revocation_list({"id": 1})):
        documents = DocumentSet.of({REVOCATION_LIST_URL: malformed})
        report = verify_credential(revocable, now=now, documents=documents)
        assert report.codes() == {"status.list_invalid"}, malformed
    bad_flag = _revocation_list({"id": revocable["id"], "revoked": "yes"})
    report = verify_credential(revocable, now=now, documents=DocumentSet.of({REVOCATION_LIST_URL: bad_flag}))
    assert report.codes() == {"status.list_invalid"}


_LIST_KEYS = st.sampled_from(["id", "revoked", "revokedCredentials", "revokedCredential"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_LIST_KEYS, children, max_size=4),
    max_leaves=20,
)


@given(_JSON)
def test_1edtech_list_reader_never_crashes(document: Any) -> None:
    with contextlib.suppress(StatusListError):
        revoked_in_1edtech_list(document, "urn:uuid:1")
