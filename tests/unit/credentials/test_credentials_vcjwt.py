"""VC-JWT verification (shared/credentials/vcjwt.py) with tokens signed by PyJWT: each algorithm verifies, and
tampered, alg-confused, mis-keyed, expired or inconsistent tokens fail with their code. The same cases with
tokens made by `jose` (npm) are in tests/interop/test_vcjwt_jose.py."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from shared.credentials.documents import DocumentFailure, DocumentSet
from shared.credentials.ecdsa import ecdsa_public_key_multibase
from shared.credentials.keys import public_key_multibase
from shared.credentials.resolver import StaticDocumentResolver
from shared.credentials.vcjwt import VcJwtError, decode_vc_jwt, verify_vc_jwt
from shared.credentials.verification import VerificationReport
from tests.unit.credentials.samples import minimal_credential

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WEB_ISSUER = "https://uni.example/issuers/1"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
Signer = Callable[[PrivateKey, dict[str, Any], dict[str, Any]], str]


def new_key(alg: str) -> PrivateKey:
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def private_jwk(key: PrivateKey) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        return jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
    return jwt.algorithms.OKPAlgorithm.to_jwk(key, as_dict=True)


def public_jwk(key: PrivateKey) -> dict[str, Any]:
    return {k: v for k, v in private_jwk(key).items() if k not in ("d", "p", "q", "dp", "dq", "qi")}


def did_key_method(key: PrivateKey) -> str:
    """The did:key verification method of an Ed25519 or P-256 key."""
    mb = public_key_multibase(key) if isinstance(key, ed25519.Ed25519PrivateKey) else ecdsa_public_key_multibase(key)
    return f"did:key:{mb}#{mb}"


def jwt_claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The VC-JWT claims of ``credential`` (VC Data Model 1.1, "JWT encoding")."""
    return {
        "vc": credential,
        "iss": credential["issuer"]["id"],
        "sub": credential["credentialSubject"]["id"],
        "jti": credential["id"],
        "nbf": int(datetime.fromisoformat(credential["validFrom"]).timestamp()),
        "exp": int(datetime.fromisoformat(credential["validUntil"]).timestamp()),
    }


def make_case(alg: str) -> tuple[PrivateKey, dict[str, Any], dict[str, Any]]:
    """A key, a JOSE header and claims: EdDSA and ES256 name a did:key issuer's key by kid, RS256 sends a jwk."""
    key = new_key(alg)
    if alg == "RS256":
        return key, {"alg": alg, "jwk": public_jwk(key)}, jwt_claims(minimal_credential(WEB_ISSUER))
    method = did_key_method(key)
    return key, {"alg": alg, "kid": method}, jwt_claims(minimal_credential(method.partition("#")[0]))


def pyjwt_sign(key: PrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    return jwt.encode(claims, key, algorithm=header["alg"], headers={k: v for k, v in header.items() if k != "alg"})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def verify(token: str, trust_named_keys: bool = False) -> VerificationReport:
    return verify_vc_jwt(token, now=NOW, trust_named_keys=trust_named_keys)


def check_code(report: VerificationReport, check: str) -> str:
    return next(c.code for c in report.checks if c.check == check)


def assert_jwt_cases(sign: Signer) -> None:
    """The cases every VC-JWT producer must pass (PyJWT here, jose in tests/interop)."""
    for alg in ("RS256", "ES256", "EdDSA"):
        key, header, claims = make_case(alg)
        token = sign(key, header, claims)
        report = verify(token, trust_named_keys=alg == "RS256")
        assert report.verified, (alg, report.failures())
        assert report.issuer_id == claims["iss"] and report.credential_id == claims["jti"]
        if alg == "RS256":  # a jwk header binds the key to nobody
            assert verify(token).codes() == {"issuer.key_unbound"}
        # Tampered payload: the signature no longer matches.
        head, _, signature = token.split(".")
        forged = {**claims, "vc": {**claims["vc"], "name": "Forged badge"}}
        tampered = f"{head}.{unsigned({}, forged).split('.')[1]}.{signature}"
        assert check_code(verify(tampered, True), "proof.signature") == "proof.jwt_signature_invalid"
        # Expired, and claims that disagree with the credential.
        late = sign(key, header, {**claims, "exp": int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())})
        assert "proof.jwt_expired" in verify(late, True).codes()
        other = sign(key, header, {**claims, "iss": "https://someone.example"})
        assert "proof.jwt_claims_mismatch" in verify(other, True).codes()
    # kid naming another key than the one that signed (the issuer being that key's did:key).
    key, header, claims = make_case("EdDSA")
    stranger = new_key("EdDSA")
    claims = jwt_claims(minimal_credential(did_key_method(stranger).partition("#")[0]))
    wrong_kid = sign(key, {**header, "kid": did_key_method(stranger)}, claims)
    assert check_code(verify(wrong_kid), "proof.signature") == "proof.jwt_signature_invalid"


def test_pyjwt_tokens() -> None:
    assert_jwt_cases(pyjwt_sign)


def test_alg_none_is_refused() -> None:
    _, header, claims = make_case("EdDSA")
    report = verify(unsigned({**header, "alg": "none"}, claims) + ".", trust_named_keys=True)
    assert not report.verified
    assert check_code(report, "proof.suite") == "proof.jwt_alg_not_allowed"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_hs256_with_the_public_key_as_secret_is_refused(alg: str) -> None:
    key, header, claims = make_case(alg)
    secret = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = unsigned({**header, "alg": "HS256"}, claims)
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    report = verify(f"{signing_input}.{b64(mac)}", trust_named_keys=True)
    assert check_code(report, "proof.suite") == "proof.jwt_alg_not_allowed"


def test_alg_must_fit_the_key_type() -> None:
    _key, header, claims = make_case("ES256")  # a P-256 issuer key, but the header says EdDSA
    token = unsigned({**header, "alg": "EdDSA"}, claims) + ".c2ln"
    assert check_code(verify(token), "proof.signature") == "proof.jwt_alg_not_allowed"


def test_header_without_key_and_private_jwk() -> None:
    key, _header, claims = make_case("RS256")
    assert check_code(verify(pyjwt_sign(key, {"alg": "RS256"}, claims), True), "issuer.key") == "proof.jwt_no_key"
    token = pyjwt_sign(key, {"alg": "RS256", "jwk": private_jwk(key)}, claims)
    assert check_code(verify(token, True), "issuer.key") == "proof.jwt_key_invalid"


def test_payload_without_vc_claim_is_the_credential() -> None:
    key, header, claims = make_case("EdDSA")
    flat = {**claims.pop("vc"), **claims}
    assert verify(pyjwt_sign(key, header, flat)).verified


@given(st.text(alphabet="eyJABCabc0123456789-_.=", max_size=80))
def test_decoding_never_crashes(text: str) -> None:
    try:
        decode_vc_jwt(text)
    except VcJwtError as error:
        assert error.code == "proof.jwt_malformed"
    assert isinstance(verify_vc_jwt(text, now=NOW), VerificationReport)


@given(st.dictionaries(st.sampled_from(["alg", "kid", "jwk", "crit"]), st.none() | st.integers() | st.text()))
def test_any_header_gives_a_report(header: dict[str, Any]) -> None:
    report = verify(unsigned(header, {"vc": {}}) + ".c2ln", trust_named_keys=True)
    assert not report.verified


@pytest.mark.parametrize("method_type", ["JsonWebKey", "JsonWebKey2020"])
def test_kid_resolves_a_json_web_key_of_the_issuers_did_document(method_type: str) -> None:
    key, _, claims = make_case("RS256")
    did = "did:web:uni.example"
    claims = jwt_claims(minimal_credential(did))
    document = {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [
            {"id": f"{did}#key-1", "type": method_type, "controller": did, "publicKeyJwk": public_jwk(key)}
        ],
        "assertionMethod": [f"{did}#key-1"],
    }
    resolver = StaticDocumentResolver({did: document})
    for kid in (f"{did}#key-1", "#key-1"):  # a relative kid is the issuer's
        token = pyjwt_sign(key, {"alg": "RS256", "kid": kid}, claims)
        report = verify_vc_jwt(token, now=NOW, resolver=resolver)
        assert report.verified, report.failures()
    # The same key in the header too must be the one kid names.
    token = pyjwt_sign(key, {"alg": "RS256", "kid": f"{did}#key-1", "jwk": public_jwk(new_key("RS256"))}, claims)
    assert check_code(verify_vc_jwt(token, now=NOW, resolver=resolver), "issuer.key") == "proof.jwt_key_mismatch"
    # Not listed under assertionMethod: not authorised to issue.
    del document["assertionMethod"]
    report = verify_vc_jwt(pyjwt_sign(key, {"alg": "RS256", "kid": "#key-1"}, claims), now=NOW, resolver=resolver)
    assert report.codes() == {"issuer.key_not_authorized"}


def test_crit_header_is_refused() -> None:
    key, header, claims = make_case("EdDSA")
    token = pyjwt_sign(key, {**header, "crit": ["exp"], "exp": 1}, claims)
    assert check_code(verify(token), "proof.suite") == "proof.jwt_malformed"


def did_jwk(key: PrivateKey) -> str:
    """The did:jwk DID of ``key`` (did:jwk method specification: base64url of the public JWK's JSON)."""
    return "did:jwk:" + b64(json.dumps(public_jwk(key)).encode())


JWKS_URL = "https://uni.example/.well-known/jwks.json"


def key_code(report: VerificationReport) -> str:
    """The issuer.key check's code of a report that must not verify."""
    assert not report.verified
    return check_code(report, "issuer.key")


def jwks_of(*members: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(members)}


def jwks_report(
    sign: Signer,
    key: PrivateKey,
    alg: str,
    claims: dict[str, Any],
    header: dict[str, Any],
    documents: dict[str, Any],
    failure: DocumentFailure | None = None,
) -> VerificationReport:
    """The report on a token signed by ``key`` with ``header``, its documents being ``documents`` (and a failure)."""
    found = DocumentSet.of(documents)
    if failure is not None:
        found.fail(failure)
    return verify_vc_jwt(sign(key, {"alg": alg, **header}, claims), now=NOW, documents=found)


def assert_jwks_and_did_jwk_cases(sign: Signer) -> None:
    """Keys from a did:jwk issuer and from the issuer's JWK Set (jku, kid URL, /.well-known/jwks.json)."""
    for alg in ("RS256", "ES256", "EdDSA"):
        # did:jwk: resolved offline, kid <did>#0 (or relative #0).
        key = new_key(alg)
        did = did_jwk(key)
        claims = jwt_claims(minimal_credential(did))
        for kid in (f"{did}#0", "#0"):
            report = verify(sign(key, {"alg": alg, "kid": kid}, claims))
            assert report.verified, (alg, report.failures())
            assert report.verification_method == f"{did}#0"
        assert (
            "issuer.verification_method_invalid" in verify(sign(key, {"alg": alg, "kid": f"{did}#1"}, claims)).codes()
        )
        # A jku elsewhere binds nothing, but does not undo a kid that is the issuer's own method.
        foreign_jku = {"alg": alg, "kid": f"{did}#0", "jku": "https://keys.example/jwks.json"}
        assert verify(sign(key, foreign_jku, claims)).verified
        stranger = did_jwk(new_key(alg))  # the kid names another did:jwk than the issuer
        assert "issuer.key_mismatch" in verify(sign(key, {"alg": alg, "kid": f"{stranger}#0"}, claims)).codes()

        # The issuer's JWK Set: the kid selects the key; other keys (and encryption keys) are skipped.
        key, other = new_key(alg), new_key(alg)
        claims = jwt_claims(minimal_credential(WEB_ISSUER))
        del claims["exp"], claims["vc"]["validUntil"]
        members = [
            {**public_jwk(other), "kid": "key-0", "use": "sig"},
            {**public_jwk(key), "kid": "key-1", "use": "sig", "alg": alg},
            {**public_jwk(other), "kid": "key-1", "use": "enc"},
        ]

        check = functools.partial(jwks_report, sign, key, alg, claims)

        well_known = check({"kid": "key-1"}, {JWKS_URL: jwks_of(*members)})
        assert well_known.verified, (alg, well_known.failures())
        jku = check(
            {"kid": "key-1", "jku": "https://uni.example/keys.json"},
            {"https://uni.example/keys.json": jwks_of(*members)},
        )
        assert jku.verified, (alg, jku.failures())
        kid_url = check({"kid": "https://uni.example/keys#key-1"}, {"https://uni.example/keys": jwks_of(*members)})
        assert kid_url.verified, (alg, kid_url.failures())
        # A JWK Set on another host binds nothing, even when it holds the key.
        foreign = {"kid": "key-1", "jku": "https://keys.example/jwks.json"}
        assert key_code(check(foreign, {"https://keys.example/jwks.json": jwks_of(*members)})) == "issuer.key_unbound"
        assert key_code(check({"kid": "key-9"}, {JWKS_URL: jwks_of(*members)})) == "issuer.key_unresolved"
        wrong_key = check({"kid": "key-0"}, {JWKS_URL: jwks_of(*members)})
        assert check_code(wrong_key, "proof.signature") == "proof.jwt_signature_invalid"
        assert key_code(check({"kid": "key-1"}, {})) == "issuer.key_unavailable"
        down = DocumentFailure(JWKS_URL, "not_found", "HTTP 404")
        assert key_code(check({"kid": "key-1"}, {}, down)) == "issuer.key_unresolved"
        if alg == "RS256":  # the key's own alg member (RS512) must be the token's
            wrong_alg = {**members[1], "alg": "RS512"}
            assert key_code(check({"kid": "key-1"}, {JWKS_URL: jwks_of(wrong_alg)})) == "proof.jwt_alg_not_allowed"
        private = {**private_jwk(key), "kid": "key-1"}
        assert key_code(check({"kid": "key-1"}, {JWKS_URL: jwks_of(private)})) == "issuer.key_unresolved"


def test_pyjwt_jwks_and_did_jwk() -> None:
    assert_jwks_and_did_jwk_cases(pyjwt_sign)


@given(
    st.from_regex(r"[A-Za-z0-9_-]{1,160}", fullmatch=True),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8) | st.integers(), max_size=4),
)
def test_any_did_jwk_or_jwk_set_gives_a_report(encoded: str, member: dict[str, Any]) -> None:
    """Hypothesis: arbitrary did:jwk values and JWK Set members are reported on, never a crash."""
    key = new_key("EdDSA")
    did = "did:jwk:" + encoded
    token = pyjwt_sign(key, {"alg": "EdDSA", "kid": f"{did}#0"}, jwt_claims(minimal_credential(did)))
    assert not verify(token).verified
    web = jwt_claims(minimal_credential(WEB_ISSUER))
    token = pyjwt_sign(key, {"alg": "EdDSA", "kid": "key-1"}, web)
    documents = DocumentSet.of({JWKS_URL: {"keys": [member, {**member, "kid": "key-1"}]}})
    assert not verify_vc_jwt(token, now=NOW, documents=documents).verified
