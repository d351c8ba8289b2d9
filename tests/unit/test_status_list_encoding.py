"""W3C Bitstring Status List v1.0 encoding: bit order, GZIP + base64url multibase, minimum size, hostile input."""

import base64
import gzip
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.issuer.status import LIST_SIZE, Slot, new_permutation, slot_index, status_entry, status_list_url
from shared.credentials.bitstring_status_list import (
    MIN_ENTRIES,
    StatusBits,
    StatusListError,
    status_list_credential,
    status_of,
)
from shared.credentials.keys import did_key, did_key_verification_method, generate_key, public_key_from_multibase
from shared.credentials.proof import sign_credential, verify_proof
from shared.credentials.status import MAX_LIST_BYTES

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def spec_decode(encoded: str) -> bytes:
    """The decoding the spec describes, written independently: multibase 'u' -> base64url -> GZIP."""
    assert encoded[0] == "u"
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_a_list_holds_at_least_131072_entries_in_16_kib() -> None:
    bits = StatusBits()
    assert bits.size == MIN_ENTRIES == 131_072
    assert len(spec_decode(bits.encode())) == 16 * 1024


def test_index_zero_is_the_leftmost_bit_of_the_first_byte() -> None:
    bits = StatusBits()
    for index in (0, 9, 131_071):
        bits.set(index)
    raw = spec_decode(bits.encode())
    assert raw[0] == 0b1000_0000
    assert raw[1] == 0b0100_0000
    assert raw[-1] == 0b0000_0001
    assert sum(bin(b).count("1") for b in raw) == 3
    assert bits.set_indexes() == [0, 9, 131_071]


def test_encoding_is_multibase_base64url_without_padding_and_deterministic() -> None:
    bits = StatusBits()
    bits.set(42)
    encoded = bits.encode()
    assert encoded.startswith("u")
    assert not set("+/=") & set(encoded)
    assert encoded == StatusBits(bits.size, bits.to_bytes()).encode()  # mtime=0: same bits, same bytes


def test_decode_round_trip_and_clearing_a_bit() -> None:
    bits = StatusBits()
    bits.set(1234)
    decoded = StatusBits.decode(bits.encode())
    assert decoded.get(1234) and not decoded.get(1233) and not decoded.get(1235)
    decoded.set(1234, False)
    assert decoded.set_indexes() == []


@pytest.mark.parametrize(
    "encoded",
    [
        "zabc",  # not base64url multibase
        "u" + base64.b64encode(gzip.compress(b"\xff" * 64)).decode(),  # standard alphabet with padding
        "u" + base64.urlsafe_b64encode(b"not gzip").decode().rstrip("="),
        "u" + base64.urlsafe_b64encode(zlib.compress(bytes(64))).decode().rstrip("="),  # zlib, not GZIP
        "u" + base64.urlsafe_b64encode(gzip.compress(bytes(64))[:-10]).decode().rstrip("="),  # truncated
        "u",
    ],
)
def test_malformed_lists_are_rejected(encoded: str) -> None:
    with pytest.raises(StatusListError):
        StatusBits.decode(encoded)


def test_a_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(MAX_LIST_BYTES + 1024))).decode().rstrip("=")
    with pytest.raises(StatusListError, match="larger than"):
        StatusBits.decode(bomb)


def test_index_outside_the_list_is_an_error() -> None:
    with pytest.raises(StatusListError):
        StatusBits(16).get(16)
    with pytest.raises(StatusListError):
        StatusBits(12)


def test_signed_status_list_credential_verifies_and_reports_the_bit() -> None:
    key = generate_key()
    bits = StatusBits()
    bits.set(73_464)
    url = status_list_url("https://issuer.example.org/", "acme", 3)
    assert url == "https://issuer.example.org/status-lists/acme/3"
    unsigned = status_list_credential(url=url, issuer=did_key(key), purpose="revocation", bits=bits, valid_from=NOW)
    assert unsigned["@context"] == ["https://www.w3.org/ns/credentials/v2"]  # the VC 2.0 context defines the terms
    assert unsigned["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert unsigned["credentialSubject"] == {
        "id": f"{url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": bits.encode(),
    }
    signed = sign_credential(unsigned, key, did_key_verification_method(key), NOW, check_structure=False)
    assert verify_proof(signed, key.public_key()).valid
    assert status_of(signed, 73_464) is True
    assert status_of(signed, 73_465) is False


def test_slots_are_a_permutation_of_the_whole_list() -> None:
    multiplier, offset = new_permutation()
    assert multiplier % 2 == 1
    indexes = {slot_index(n, multiplier, offset) for n in range(LIST_SIZE)}
    assert indexes == set(range(LIST_SIZE))
    first = [slot_index(n, multiplier, offset) for n in range(5)]
    assert first != sorted(first) or first[0] != 0  # not simply counting up from zero
    with pytest.raises(ValueError):
        slot_index(LIST_SIZE, multiplier, offset)


def test_status_entry_names_the_bit_not_the_list() -> None:
    entry = status_entry(Slot(2, 99, "https://i.example/status-lists/acme/2")).model_dump(by_alias=True)
    assert entry == {
        "id": "https://i.example/status-lists/acme/2#99",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "99",
        "statusListCredential": "https://i.example/status-lists/acme/2",
    }


def test_reads_the_1edtech_validators_status_list() -> None:
    """A list produced by someone else (1EdTech validator test suite: 131,072 entries, bit 23 set, signed
    eddsa-rdfc-2022 by the key of the 1EdTech test vector): same encoding, same bit order, same proof recipe."""
    testlist = json.loads((FIXTURES / "1edtech-bitstring-testlist.json").read_text(encoding="utf-8"))
    bits = StatusBits.decode(testlist["credentialSubject"]["encodedList"])
    assert bits.size == MIN_ENTRIES
    assert bits.set_indexes() == [23]
    assert status_of(testlist, 23) is True
    # Their list re-encoded by us decodes to the same bits (GZIP headers may differ; the bits may not).
    assert StatusBits.decode(bits.encode()).set_indexes() == [23]
    [proof] = testlist["proof"]
    key = public_key_from_multibase(proof["verificationMethod"].split("#")[1])
    assert verify_proof({**testlist, "proof": proof}, key).valid
