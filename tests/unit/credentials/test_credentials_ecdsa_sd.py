"""ecdsa-sd-2023 (vc-di-ecdsa 1.0 §3.5): the W3C test vectors, tampered derived proofs, and mangled proof values.

The two W3C examples (``prc``: a permanent resident card, ``employ``: an employment authorisation document) give
every intermediate value of the base proof (canonical and HMAC-relabelled N-Quads, mandatory / non-mandatory
groups, proof and mandatory hashes, the signatures) and of the derived proof (parsed proof value, relabelled
N-Quads, the verify data); see fixtures/vectors/w3c-di/README.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import base58
import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.credentials.ecdsa import verify_raw
from shared.credentials.ecdsa_sd import (
    BASE_PROOF_HEADER,
    DERIVED_PROOF_HEADER,
    BaseProofValue,
    DerivedProofValue,
    ProofValueError,
    create_verify_data,
    hmac_label_map,
    label_replaced_nquads,
    parse_proof_value,
    proof_hash,
    proof_scoped_key,
    serialize_derived_proof_value,
    verify_sd_proof,
)
from shared.credentials.jsonld import canonicalize, document_term_quads, make_document_loader
from shared.credentials.multibase import decode_base64url, encode_base64url
from shared.credentials.multikey import multikey_public_key
from shared.credentials.rdfc import canonicalize_term_quads
from shared.credentials.resolver import DidKeyResolver
from shared.credentials.sd_primitives import canonicalize_and_group, json_pointer_paths, select_json_ld
from shared.credentials.verification import verify_credential

VECTORS = Path(__file__).resolve().parent / "fixtures" / "vectors" / "w3c-di"
# https://w3id.org/citizenship/v4rc1, the vectors' second context (not bundled; see the README there).
CITIZENSHIP = json.loads((VECTORS / "citizenship-v4rc1.jsonld").read_text(encoding="utf-8"))
LOADER = make_document_loader({"https://w3id.org/citizenship/v4rc1": CITIZENSHIP})
EXAMPLES = ("prc", "employ")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _vector(example: str, name: str) -> Any:
    path = VECTORS / f"ecdsa-sd-2023-{example}-{name}"
    text = path.read_text(encoding="utf-8")
    return text if path.suffix == ".txt" else json.loads(text)


def _map_values(value: dict[str, Any]) -> list[str]:
    """The values of a vector's serialised JavaScript Map (``{"dataType": "Map", "value": [[k, v], ...]}``)."""
    return [v for _, v in value["value"]]


def _issuer_key(document: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    key = multikey_public_key(document["proof"]["verificationMethod"].partition("#")[2])
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _multikey(raw: bytes) -> str:
    return "z" + base58.b58encode(raw).decode()


def _base(example: str) -> tuple[dict[str, Any], BaseProofValue, dict[str, Any]]:
    """The example's signed base credential, its parsed proof value, and the document without proof."""
    signed = _vector(example, "addSignedSDBase.json")
    parsed = parse_proof_value(signed["proof"]["proofValue"])
    assert isinstance(parsed, BaseProofValue)
    return signed, parsed, {k: v for k, v in signed.items() if k != "proof"}


def _revealed(example: str) -> dict[str, Any]:
    return _vector(example, "derivedRevealDocument.json")


def _with_proof_value(document: dict[str, Any], derived: DerivedProofValue) -> dict[str, Any]:
    """``document`` with its derived proof value re-serialised from ``derived`` (serializeDerivedProofValue)."""
    changed = copy.deepcopy(document)
    changed["proof"]["proofValue"] = serialize_derived_proof_value(derived)
    return changed


def _verify(document: dict[str, Any], key: Any = None) -> tuple[bool, str]:
    result = verify_sd_proof(document, document["proof"], key or _issuer_key(document), loader=LOADER)
    return result.valid, result.code


# ----------------------------------------------------------------------------------------------------------
# The W3C vectors: base proof
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES)
def test_base_proof_value_parses_to_the_vector_components(example: str) -> None:
    signed = _vector(example, "addSignedSDBase.json")
    raw = _vector(example, "addRawBaseSignatureInfo.json")
    parsed = parse_proof_value(signed["proof"]["proofValue"])
    assert isinstance(parsed, BaseProofValue)
    assert parsed.base_signature.hex() == raw["baseSignature"]
    assert _multikey(parsed.public_key) == raw["publicKey"]
    assert [s.hex() for s in parsed.signatures] == raw["signatures"]
    assert parsed.mandatory_pointers == raw["mandatoryPointers"]
    assert parsed.hmac_key.hex() == _vector(example, "derivedRecoveredBaseData.json")["hmacKey"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_base_proof_intermediate_values(example: str) -> None:
    """Canonical and HMAC-relabelled N-Quads, proof hash, and every signature of the base proof."""
    signed, parsed, unsecured = _base(example)
    quads = document_term_quads(unsecured, loader=LOADER)
    assert canonicalize(unsecured, loader=LOADER).splitlines(keepends=True) == _vector(example, "addBaseDocCanon.json")
    canonical_ids = canonicalize_term_quads(quads).issued
    labels = hmac_label_map({c: c for c in canonical_ids.values()}, parsed.hmac_key)
    assert label_replaced_nquads(quads, labels) == _vector(example, "addBaseDocHMACCanon.json")

    config = _vector(example, "addProofConfig.json")
    assert canonicalize(config, loader=LOADER) == _vector(example, "addProofConfigCanon.txt")
    hashes = _vector(example, "addHashData.json")
    assert proof_hash(signed, signed["proof"], LOADER).hex() == hashes["proofHash"]
    transform = _vector(example, "addBaseTransform.json")
    mandatory, non_mandatory = _map_values(transform["mandatory"]), _map_values(transform["nonMandatory"])
    assert hashlib.sha256("".join(mandatory).encode()).hexdigest() == hashes["mandatoryHash"]

    to_sign = bytes.fromhex(hashes["proofHash"]) + parsed.public_key + bytes.fromhex(hashes["mandatoryHash"])
    assert verify_raw(_issuer_key(signed), parsed.base_signature, to_sign)
    scoped = proof_scoped_key(parsed.public_key)
    assert len(parsed.signatures) == len(non_mandatory)
    assert all(verify_raw(scoped, s, nq.encode()) for s, nq in zip(parsed.signatures, non_mandatory, strict=True))


# The selective pointers of the examples' derived credentials (what their derivedGroupIndexes select).
SELECTIVE = ["/validFrom", "/validUntil", "/credentialSubject/birthCountry"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_pointer_groups_match_the_vectors(example: str) -> None:
    """canonicalizeAndGroup: skolemise, compact, select by JSON pointers, relabel: the vectors' group indexes."""
    _, parsed, unsecured = _base(example)
    indexes = _vector(example, "derivedGroupIndexes.json")
    transform = _vector(example, "addBaseTransform.json")
    for pointers, wanted in (
        (parsed.mandatory_pointers, indexes["mandatoryIndexes"]),
        (SELECTIVE, indexes["selectiveIndexes"]),
        (parsed.mandatory_pointers + SELECTIVE, indexes["combinedIndexes"]),
    ):
        grouped = canonicalize_and_group(
            unsecured, lambda ids: hmac_label_map(ids, parsed.hmac_key), pointers, loader=LOADER
        )
        assert sorted(grouped.matching) == wanted
    assert grouped.nquads == _vector(example, "addBaseDocHMACCanon.json")
    mandatory = canonicalize_and_group(
        unsecured, lambda ids: hmac_label_map(ids, parsed.hmac_key), parsed.mandatory_pointers, loader=LOADER
    )
    assert mandatory.selected == _map_values(transform["mandatory"])
    assert mandatory.others == _map_values(transform["nonMandatory"])


@pytest.mark.parametrize("example", EXAMPLES)
def test_a_base_proof_verifies_as_the_holder_checks_it(example: str) -> None:
    signed = _vector(example, "addSignedSDBase.json")
    assert _verify(signed) == (True, "proof.valid")
    report = verify_credential(signed, now=NOW, profile="vc", loader=LOADER, resolver=DidKeyResolver())
    [signature] = [c for c in report.checks if c.check == "proof.signature"]
    assert (signature.outcome, signature.code) == ("passed", "proof.valid")
    assert "base proof" in signature.message


def _base_with_pointers(signed: dict[str, Any], pointers: list[str]) -> dict[str, Any]:
    parsed = parse_proof_value(signed["proof"]["proofValue"])
    assert isinstance(parsed, BaseProofValue)
    components = [parsed.base_signature, parsed.public_key, parsed.hmac_key, parsed.signatures, pointers]
    changed = copy.deepcopy(signed)
    changed["proof"]["proofValue"] = encode_base64url(BASE_PROOF_HEADER + cbor2.dumps(components))
    return changed


@pytest.mark.parametrize("example", EXAMPLES)
def test_tampered_base_credentials_fail(example: str) -> None:
    signed = _vector(example, "addSignedSDBase.json")
    claim = copy.deepcopy(signed)
    claim["credentialSubject"]["birthCountry"] = "Utopia"  # a non-mandatory statement
    assert _verify(claim) == (False, "proof.signature_invalid")
    mandatory = copy.deepcopy(signed)
    mandatory["issuer"]["image"] = "https://example.com/other.png"  # under the mandatory pointer /issuer
    assert _verify(mandatory) == (False, "proof.signature_invalid")
    # Other mandatory pointers: other groups, so the base signature's mandatory hash differs.
    assert _verify(_base_with_pointers(signed, ["/validFrom"]))[1] in {
        "proof.signature_invalid",
        "proof.sd_signature_count",
    }
    assert _verify(_base_with_pointers(signed, ["/nothing/here"])) == (False, "proof.sd_pointer_invalid")
    assert _verify(_base_with_pointers(signed, ["issuer"])) == (False, "proof.sd_pointer_invalid")


# ----------------------------------------------------------------------------------------------------------
# The W3C vectors: derived proof
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES)
def test_derived_proof_value_parses_to_the_vector_components(example: str) -> None:
    expected = _vector(example, "verifyDerivedProofValue.json")
    parsed = parse_proof_value(_revealed(example)["proof"]["proofValue"])
    assert isinstance(parsed, DerivedProofValue)
    assert parsed.base_signature.hex() == expected["baseSignature"]
    assert _multikey(parsed.public_key) == expected["publicKey"]
    assert [s.hex() for s in parsed.signatures] == expected["signatures"]
    assert sorted(parsed.label_map.items()) == sorted(map(tuple, expected["labelMap"]))
    assert parsed.mandatory_indexes == expected["mandatoryIndexes"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_derived_proof_verify_data_and_verification(example: str) -> None:
    revealed = _revealed(example)
    parsed = parse_proof_value(revealed["proof"]["proofValue"])
    assert isinstance(parsed, DerivedProofValue)
    unsecured = {k: v for k, v in revealed.items() if k != "proof"}
    assert unsecured == _vector(example, "derivedUnsignedReveal.json")
    quads = document_term_quads(unsecured, loader=LOADER)
    assert label_replaced_nquads(quads, parsed.label_map) == _vector(example, "verifyNQuads.json")
    data = create_verify_data(revealed, revealed["proof"], parsed, loader=LOADER)
    expected = _vector(example, "verifyCreateVerifyData.json")
    assert data.proof_hash.hex() == expected["proofHash"]
    assert data.mandatory_hash.hex() == expected["mandatoryHash"]
    assert data.non_mandatory == expected["nonMandatory"]
    assert _verify(revealed) == (True, "proof.valid")


# ----------------------------------------------------------------------------------------------------------
# Tampering
# ----------------------------------------------------------------------------------------------------------


def _tampered_claim(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["credentialSubject"]["birthCountry"] = "Utopia"
    return changed


def _dropped_disclosed_claim(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    del changed["validUntil"]
    return changed


def _dropped_mandatory_statement(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    del changed["issuer"]["image"]  # /issuer is the mandatory pointer
    return changed


def _swapped_signatures(document: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_proof_value(document["proof"]["proofValue"])
    assert isinstance(parsed, DerivedProofValue)
    signatures = [parsed.signatures[1], parsed.signatures[0], *parsed.signatures[2:]]
    return _with_proof_value(document, DerivedProofValue(**{**parsed.__dict__, "signatures": signatures}))


def _moved_mandatory_index(document: dict[str, Any]) -> dict[str, Any]:
    parsed = parse_proof_value(document["proof"]["proofValue"])
    assert isinstance(parsed, DerivedProofValue)
    indexes = [*parsed.mandatory_indexes[:-1], parsed.mandatory_indexes[-1] + 1]
    return _with_proof_value(document, DerivedProofValue(**{**parsed.__dict__, "mandatory_indexes": indexes}))


def _changed_created(document: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["proof"]["created"] = "2024-01-01T00:00:00Z"
    return changed


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize(
    ("tamper", "codes"),
    [
        (_tampered_claim, {"proof.signature_invalid"}),
        (_dropped_disclosed_claim, {"proof.sd_signature_count"}),
        (_dropped_mandatory_statement, {"proof.signature_invalid", "proof.sd_signature_count"}),
        (_swapped_signatures, {"proof.signature_invalid"}),
        (_moved_mandatory_index, {"proof.signature_invalid"}),
        (_changed_created, {"proof.signature_invalid"}),
    ],
)
def test_tampered_derived_credentials_fail(example: str, tamper: Any, codes: set[str]) -> None:
    valid, code = _verify(tamper(_revealed(example)))
    assert not valid and code in codes


@pytest.mark.parametrize("example", EXAMPLES)
def test_another_key_fails(example: str) -> None:
    revealed = _revealed(example)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    assert _verify(revealed, other) == (False, "proof.signature_invalid")
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert _verify(revealed, p384) == (False, "proof.key_type_mismatch")
    # The proof-scoped key is not the issuer's: it cannot stand in for it.
    parsed = parse_proof_value(revealed["proof"]["proofValue"])
    assert _verify(revealed, proof_scoped_key(parsed.public_key)) == (False, "proof.signature_invalid")


def test_an_ed25519_key_is_the_wrong_type() -> None:
    from shared.credentials.suites import verify_embedded_proof

    revealed = _revealed("prc")
    result = verify_embedded_proof(revealed, revealed["proof"], Ed25519PrivateKey.generate().public_key())
    assert (result.valid, result.code) == (False, "proof.key_type_mismatch")


def test_a_label_map_without_a_blank_node_is_refused() -> None:
    revealed = _revealed("prc")
    parsed = parse_proof_value(revealed["proof"]["proofValue"])
    assert isinstance(parsed, DerivedProofValue)
    label_map = dict(list(parsed.label_map.items())[:1])
    changed = _with_proof_value(revealed, DerivedProofValue(**{**parsed.__dict__, "label_map": label_map}))
    assert _verify(changed) == (False, "proof.sd_label_map_invalid")


# ----------------------------------------------------------------------------------------------------------
# Malformed proof values: always a code, never an exception
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "proof_value",
    [
        None,
        42,
        "",
        "u",
        "z2V0B",  # base58btc, not base64url
        "u!!!!",
        "uAA",  # too short for a header
        encode_base64url(b"\xd9\x5d\x02" + cbor2.dumps([])),  # unknown header
        encode_base64url(DERIVED_PROOF_HEADER + b"\xff"),  # not CBOR
        encode_base64url(DERIVED_PROOF_HEADER + b"\x81" * 100_000 + b"\x00"),  # nested past cbor2's depth limit
        encode_base64url(DERIVED_PROOF_HEADER + b"\x5b" + b"\xff" * 8),  # a byte string claiming 2^64-1 bytes
        encode_base64url(DERIVED_PROOF_HEADER + b"\x9b" + b"\xff" * 8),  # an array claiming 2^64-1 items
        encode_base64url(DERIVED_PROOF_HEADER + cbor2.dumps([1, 2, 3])),  # three components
        encode_base64url(DERIVED_PROOF_HEADER + cbor2.dumps([b"x" * 64, b"y" * 35, [], {}, []]) + b"\x00"),
        encode_base64url(DERIVED_PROOF_HEADER + cbor2.dumps([b"x" * 63, b"y" * 35, [], {}, []])),
        encode_base64url(DERIVED_PROOF_HEADER + cbor2.dumps([b"x" * 64, b"y" * 35, [], {"c14n0": b"z" * 32}, []])),
        encode_base64url(DERIVED_PROOF_HEADER + cbor2.dumps([b"x" * 64, b"y" * 35, [], {}, ["0"]])),
        encode_base64url(DERIVED_PROOF_HEADER + cbor2.dumps([b"x" * 64, b"y" * 35, [b"s"], {}, []])),
    ],
)
def test_malformed_proof_values(proof_value: Any) -> None:
    revealed = _revealed("prc")
    revealed["proof"]["proofValue"] = proof_value
    assert _verify(revealed) == (False, "proof.malformed")


_ALLOWED_CODES = {
    "proof.malformed",
    "proof.signature_invalid",
    "proof.sd_signature_count",
    "proof.sd_label_map_invalid",
    "proof.sd_pointer_invalid",
}
_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.binary(max_size=70) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.integers(-2, 5), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header=st.sampled_from([b"\xd9\x5d\x00", b"\xd9\x5d\x01", b"\xd9\x5d"]),
    components=st.lists(_cbor_values, min_size=0, max_size=6),
)
def test_arbitrary_cbor_proof_values_give_a_code(header: bytes, components: list[Any]) -> None:
    revealed = _revealed("prc")
    revealed["proof"]["proofValue"] = encode_base64url(header + cbor2.dumps(components))
    valid, code = _verify(revealed)
    assert not valid and code in _ALLOWED_CODES


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mangled_proof_values_give_a_code(data: st.DataObject) -> None:
    """Bytes of the valid derived proof value flipped, cut or inserted; or arbitrary text."""
    revealed = _revealed("employ")
    raw = bytearray(decode_base64url(revealed["proof"]["proofValue"]))
    how = data.draw(st.sampled_from(["flip", "cut", "insert", "text"]))
    if how == "text":
        value = data.draw(st.text(max_size=200))
    else:
        at = data.draw(st.integers(0, len(raw) - 1))
        if how == "flip":
            raw[at] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del raw[at:]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        value = encode_base64url(bytes(raw))
    revealed["proof"]["proofValue"] = value
    valid, code = _verify(revealed)
    assert code in _ALLOWED_CODES | {"proof.valid"}
    assert valid == (code == "proof.valid")


def test_parse_errors_are_malformed_proof_errors() -> None:
    with pytest.raises(ProofValueError) as caught:
        parse_proof_value("u" + "A" * 10)
    assert caught.value.code == "proof.malformed"


def test_json_pointer_paths() -> None:
    assert json_pointer_paths("/credentialSubject/result/0") == ["credentialSubject", "result", 0]
    assert json_pointer_paths("/a~1b/c~0d/01") == ["a/b", "c~d", "01"]


def test_select_json_ld_keeps_ids_types_and_array_order() -> None:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "urn:x",
        "type": ["VerifiableCredential"],
        "credentialSubject": {"id": "urn:s", "type": "T", "result": [{"v": 1}, {"v": 2}, {"v": 3}], "name": "n"},
    }
    selected = select_json_ld(document, ["/credentialSubject/result/2", "/credentialSubject/result/0"])
    assert selected == {
        "id": "urn:x",
        "type": ["VerifiableCredential"],
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "credentialSubject": {"id": "urn:s", "type": "T", "result": [{"v": 1}, {"v": 3}]},
    }
    assert select_json_ld(document, []) is None


_SEGMENTS = st.sampled_from(
    ["issuer", "id", "image", "credentialSubject", "type", "0", "1", "7", "birthCountry", "validFrom", "@context", "~1"]
)
_POINTERS = st.lists(
    st.one_of(st.text(max_size=12), st.lists(_SEGMENTS, max_size=4).map(lambda segments: "/" + "/".join(segments))),
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pointers=_POINTERS)
def test_arbitrary_mandatory_pointers_give_a_code(pointers: list[str]) -> None:
    """A base proof with any mandatory pointers: a verdict with a code, never an exception."""
    signed = _base_with_pointers(_vector("prc", "addSignedSDBase.json"), pointers)
    valid, code = _verify(signed)
    assert code in _ALLOWED_CODES | {"proof.valid"}
    assert valid == (code == "proof.valid")


def test_a_derived_badge_may_withhold_what_the_schema_requires() -> None:
    """The 1EdTech validator's selectively disclosed badge has no top-level ``name`` (OB 3.0 requires one): the
    holder did not disclose it. It verifies; the schema check says what was not disclosed."""
    path = Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases" / "sd" / "derivedcredential.json"
    credential = json.loads(path.read_text(encoding="utf-8"))
    report = verify_credential(credential, now=NOW, trust_named_keys=True)
    assert report.verified, report.failures()
    [schema] = [c for c in report.checks if c.check == "schema"]
    assert schema.code == "schema.partly_disclosed" and "'name' is a required property" in schema.message
    # A disclosed claim must still have the schema's form.
    credential["credentialSubject"]["achievement"]["criteria"] = "not an object"
    report = verify_credential(credential, now=NOW, trust_named_keys=True)
    assert {"schema.invalid", "proof.sd_signature_count"} <= report.codes()
