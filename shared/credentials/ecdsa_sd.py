"""``ecdsa-sd-2023`` selective disclosure proofs (W3C vc-di-ecdsa 1.0 §3.5), verified as a verifier receives them.

The issuer signs a *base proof*: each N-Quad of the document (blank nodes relabelled with an HMAC of their
RDFC-1.0 label) is signed on its own with a proof-scoped P-256 key, and the issuer's key signs
``SHA-256(canonical proof config) || proof-scoped public key || SHA-256(mandatory N-Quads)``. The holder reveals a
subset and sends a *derived proof*: the base signature, the proof-scoped key, the signatures of the revealed
non-mandatory N-Quads, the label map (verifier's canonical label -> HMAC label) and the positions of the mandatory
N-Quads among the revealed ones.

Verify Derived Proof: canonicalise the revealed document with RDFC-1.0, write its blank nodes with the label map's
labels, sort; the N-Quads at ``mandatoryIndexes`` are hashed (mandatory hash), each other one must carry a
signature by the proof-scoped key, and the base signature must be the issuer's over the three values above.

Decisions (see docs/verification-coverage.md): only P-256 issuer keys (the spec and Digital Bazaar fix the base
signature at 64 bytes and the hashes at SHA-256); the proof-scoped key is 35 bytes (multikey ``0x8024`` + compressed
point; the spec's "length 36" in parseDerivedProofValue contradicts its own Base Proof Serialization and the test
vectors); byte strings wrapped in CBOR tag 64 are read as Digital Bazaar reads them.

A *base* proof is meant for the holder, but it carries everything needed to check it (the HMAC key, the mandatory
pointers): it is verified as the holder verifies it before deriving — the mandatory pointers select the mandatory
statements (:mod:`shared.credentials.sd_primitives`), every other statement must carry a signature — so a learner
pasting the credential exactly as issued gets a verdict. Digital Bazaar's verifier refuses base proofs.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

from .ecdsa import P256, curve_of, verify_raw
from .errors import CredentialError, KeyFormatError
from .jsonld import DocumentLoader, canonicalize, document_term_quads
from .multibase import decode_base64url, encode_base64url
from .proof import Dataset, ProofCheckResult
from .rdf import TermQuad, quad_terms
from .rdfc import canonicalize_term_quads, relabelled_nquads
from .sd_primitives import canonicalize_and_group

ECDSA_SD_2023 = "ecdsa-sd-2023"
BASE_PROOF_HEADER = b"\xd9\x5d\x00"
DERIVED_PROOF_HEADER = b"\xd9\x5d\x01"
_SIGNATURE_SIZE = 64  # P-256 r || s
_PROOF_KEY_SIZE = len(P256.multicodec) + P256.point_size  # 35
_HMAC_SIZE = 32
_CBOR_BYTES_TAG = 64  # "uint8 typed array", what some encoders use for byte strings


class ProofValueError(CredentialError):
    """The ``proofValue`` is not an ecdsa-sd-2023 base or derived proof value."""

    code = "proof.malformed"


@dataclass(frozen=True)
class BaseProofValue:
    """parseBaseProofValue: what the issuer hands to the holder."""

    base_signature: bytes
    public_key: bytes  # proof-scoped key: multikey header 0x8024 + compressed P-256 point
    hmac_key: bytes
    signatures: list[bytes]
    mandatory_pointers: list[str]


@dataclass(frozen=True)
class DerivedProofValue:
    """parseDerivedProofValue; ``label_map`` decompressed (``c14nN`` -> ``u`` + base64url HMAC digest)."""

    base_signature: bytes
    public_key: bytes
    signatures: list[bytes]
    label_map: dict[str, str]
    mandatory_indexes: list[int]


@dataclass(frozen=True)
class VerifyData:
    """createVerifyData: what the signatures are checked against (exposed for the test vectors)."""

    proof_hash: bytes
    mandatory_hash: bytes
    mandatory: list[str]
    non_mandatory: list[str]


def _bytes(value: Any, what: str, size: int | None = None) -> bytes:
    if isinstance(value, cbor2.CBORTag) and value.tag == _CBOR_BYTES_TAG:
        value = value.value
    if not isinstance(value, bytes) or (size is not None and len(value) != size):
        wanted = f"{size} bytes" if size is not None else "a byte string"
        got = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ProofValueError(f"ecdsa-sd-2023 {what} must be {wanted}, not {got}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProofValueError(f"ecdsa-sd-2023 {what} must be an array")
    return value


def _components(proof_value: Any) -> tuple[bytes, list[Any]]:
    """(header, the five CBOR components) of a multibase base64url-no-pad ``proofValue``."""
    try:
        raw = decode_base64url(proof_value)
    except KeyFormatError as exc:
        raise ProofValueError(f"ecdsa-sd-2023 proofValue: {exc}") from exc
    header = raw[:3]
    if header not in (BASE_PROOF_HEADER, DERIVED_PROOF_HEADER):
        raise ProofValueError("ecdsa-sd-2023 proofValue header is neither base (0xd95d00) nor derived (0xd95d01)")
    stream = io.BytesIO(raw[3:])
    try:
        components = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        raise ProofValueError(f"ecdsa-sd-2023 proofValue is not CBOR: {exc}") from exc
    if stream.tell() != len(raw) - 3:
        raise ProofValueError("ecdsa-sd-2023 proofValue has bytes after its CBOR value")
    if not isinstance(components, list) or len(components) != 5:
        raise ProofValueError("ecdsa-sd-2023 proofValue must be a CBOR array of five components")
    return header, components


def parse_proof_value(proof_value: Any) -> BaseProofValue | DerivedProofValue:
    """parseBaseProofValue / parseDerivedProofValue, by header; :class:`ProofValueError` for anything else."""
    header, (base_signature, public_key, third, fourth, fifth) = _components(proof_value)
    base_signature = _bytes(base_signature, "baseSignature", _SIGNATURE_SIZE)
    public_key = _bytes(public_key, "publicKey", _PROOF_KEY_SIZE)
    if header == BASE_PROOF_HEADER:
        pointers = _list(fifth, "mandatoryPointers")
        if not all(isinstance(p, str) for p in pointers):
            raise ProofValueError("ecdsa-sd-2023 mandatoryPointers must be strings")
        return BaseProofValue(
            base_signature,
            public_key,
            _bytes(third, "hmacKey", _HMAC_SIZE),
            [_bytes(s, "signature", _SIGNATURE_SIZE) for s in _list(fourth, "signatures")],
            pointers,
        )
    if not isinstance(fourth, dict):
        raise ProofValueError("ecdsa-sd-2023 labelMap must be a CBOR map")
    label_map = {}
    for index, digest in fourth.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ProofValueError("ecdsa-sd-2023 labelMap keys must be non-negative integers")
        label_map[f"c14n{index}"] = encode_base64url(_bytes(digest, "labelMap value", _HMAC_SIZE))
    indexes = _list(fifth, "mandatoryIndexes")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
        raise ProofValueError("ecdsa-sd-2023 mandatoryIndexes must be integers")
    return DerivedProofValue(
        base_signature,
        public_key,
        [_bytes(s, "signature", _SIGNATURE_SIZE) for s in _list(third, "signatures")],
        label_map,
        indexes,
    )


def serialize_derived_proof_value(derived: DerivedProofValue) -> str:
    """serializeDerivedProofValue: the ``proofValue`` of ``derived`` (the label map compressed again)."""
    compressed = {int(k[4:]): decode_base64url(v) for k, v in derived.label_map.items()}
    components = [derived.base_signature, derived.public_key, derived.signatures, compressed, derived.mandatory_indexes]
    return encode_base64url(DERIVED_PROOF_HEADER + cbor2.dumps(components))


def is_derived_proof_value(proof_value: Any) -> bool:
    """True if ``proof_value`` is a multibase base64url value with the derived proof header (nothing else read)."""
    try:
        return decode_base64url(proof_value).startswith(DERIVED_PROOF_HEADER)
    except KeyFormatError:
        return False


def proof_scoped_key(public_key: bytes) -> ec.EllipticCurvePublicKey:
    """The proof-scoped P-256 key of a proof value (multikey bytes)."""
    if not public_key.startswith(P256.multicodec):
        raise ProofValueError("ecdsa-sd-2023 publicKey is not a P-256 multikey (header 0x8024)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(P256.curve(), public_key[len(P256.multicodec) :])
    except ValueError as exc:
        raise ProofValueError(f"ecdsa-sd-2023 publicKey is not a P-256 point: {exc}") from exc


def _term_quads(dataset: Dataset) -> list[TermQuad]:
    if dataset and not isinstance(dataset[0], tuple):
        return [quad_terms(quad) for quad in dataset]  # type: ignore[arg-type]
    return list(dataset)  # type: ignore[arg-type]


def hmac_label_map(canonical_ids: dict[str, str], hmac_key: bytes) -> dict[str, str]:
    """createHmacIdLabelMapFunction applied: each blank node's label becomes ``u`` + base64url(HMAC-SHA-256 of
    its canonical label, e.g. ``c14n0``), as the issuer labels them in the base proof."""
    return {
        blank: encode_base64url(hmac.new(hmac_key, canonical.encode("utf-8"), hashlib.sha256).digest())
        for blank, canonical in canonical_ids.items()
    }


def label_replaced_nquads(quads: list[TermQuad], label_map: dict[str, str]) -> list[str]:
    """labelReplacementCanonicalizeNQuads with createLabelMapFunction(label_map): the canonical N-Quads with each
    canonical blank node label replaced by its label in ``label_map``.

    Raises :class:`CredentialError` ``proof.sd_label_map_invalid`` when a blank node's canonical label has none."""
    issued = canonicalize_term_quads(quads).issued
    try:
        labels = {blank: label_map[canonical] for blank, canonical in issued.items()}
    except KeyError as exc:
        message = f"the derived proof's label map has no label for the canonical blank node {exc.args[0]}"
        raise CredentialError(message, code="proof.sd_label_map_invalid") from exc
    return relabelled_nquads(quads, labels)


def proof_hash(credential: dict[str, Any], proof: dict[str, Any], loader: DocumentLoader | None) -> bytes:
    """SHA-256 of the canonical proof configuration (the proof without ``proofValue``, with the document's
    ``@context``), as ecdsa-rdfc-2019 hashes it."""
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = credential.get("@context")
    return hashlib.sha256(canonicalize(config, loader=loader, check_terms=False).encode("utf-8")).digest()


def create_verify_data(
    credential: dict[str, Any],
    proof: dict[str, Any],
    derived: DerivedProofValue,
    *,
    loader: DocumentLoader | None = None,
    dataset: Dataset | None = None,
) -> VerifyData:
    """createVerifyData for a parsed derived proof. ``dataset``: the RDF dataset of the document without its
    proof, when the caller has built it."""
    if dataset is None:
        unsecured = {k: v for k, v in credential.items() if k != "proof"}
        dataset = document_term_quads(unsecured, loader=loader, check_terms=False)
    nquads = label_replaced_nquads(_term_quads(dataset), derived.label_map)
    wanted = set(derived.mandatory_indexes)
    mandatory = [nq for i, nq in enumerate(nquads) if i in wanted]
    non_mandatory = [nq for i, nq in enumerate(nquads) if i not in wanted]
    mandatory_hash = hashlib.sha256("".join(mandatory).encode("utf-8")).digest()
    return VerifyData(proof_hash(credential, proof, loader), mandatory_hash, mandatory, non_mandatory)


def verify_sd_proof(
    credential: dict[str, Any],
    proof: dict[str, Any],
    public_key: ec.EllipticCurvePublicKey,
    *,
    loader: DocumentLoader | None = None,
    dataset: Dataset | None = None,
) -> ProofCheckResult:
    """Verify an ecdsa-sd-2023 proof with the issuer's ``public_key``: a derived proof as Verify Derived Proof
    says, a base proof as the holder checks it (see the module docstring)."""
    try:
        if curve_of(public_key) != P256:
            raise KeyFormatError("not P-256")
    except KeyFormatError:
        message = "ecdsa-sd-2023 needs a P-256 issuer key (64-byte base signature over SHA-256 hashes)"
        return ProofCheckResult(False, "proof.key_type_mismatch", message)
    try:
        parsed = parse_proof_value(proof.get("proofValue"))
        scoped_key = proof_scoped_key(parsed.public_key)
        if isinstance(parsed, BaseProofValue):
            kind = "base proof (checked as the holder checks it)"
            data = create_base_verify_data(credential, proof, parsed, loader=loader)
        else:
            kind = "derived proof"
            data = create_verify_data(credential, proof, parsed, loader=loader, dataset=dataset)
    except CredentialError as exc:
        return ProofCheckResult(False, exc.code, f"cannot verify the ecdsa-sd-2023 proof: {exc}")
    if len(parsed.signatures) != len(data.non_mandatory):
        message = (
            f"the {kind} has {len(parsed.signatures)} signatures for {len(data.non_mandatory)} non-mandatory statements"
        )
        return ProofCheckResult(False, "proof.sd_signature_count", message)
    to_verify = data.proof_hash + parsed.public_key + data.mandatory_hash
    if not verify_raw(public_key, parsed.base_signature, to_verify):
        message = "the base signature does not match the proof configuration, proof key and mandatory statements"
        return ProofCheckResult(False, "proof.signature_invalid", message)
    for index, (signature, nquad) in enumerate(zip(parsed.signatures, data.non_mandatory, strict=True)):
        if not verify_raw(scoped_key, signature, nquad.encode("utf-8")):
            message = f"the signature of non-mandatory statement {index} does not match: {nquad.strip()}"
            return ProofCheckResult(False, "proof.signature_invalid", message)
    counts = f"{len(data.mandatory)} mandatory and {len(data.non_mandatory)} other statements"
    return ProofCheckResult(True, "proof.valid", f"ecdsa-sd-2023 {kind} is valid ({counts})")


def create_base_verify_data(
    credential: dict[str, Any], proof: dict[str, Any], base: BaseProofValue, *, loader: DocumentLoader | None = None
) -> VerifyData:
    """What a base proof's signatures cover, recomputed as the holder does (createDisclosureData's first steps):
    the document's N-Quads with HMAC labels, grouped by the mandatory pointers. A pointer that selects nothing
    is ``proof.sd_pointer_invalid``."""
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    grouped = canonicalize_and_group(
        unsecured, lambda ids: hmac_label_map(ids, base.hmac_key), base.mandatory_pointers, loader=loader
    )
    mandatory = grouped.selected
    mandatory_hash = hashlib.sha256("".join(mandatory).encode("utf-8")).digest()
    return VerifyData(proof_hash(credential, proof, loader), mandatory_hash, mandatory, grouped.others)
