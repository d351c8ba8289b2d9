"""OpenID4VCI's pure parts (services/issuer/oid4vci.py): offers, PIN digests, did:jwk, and the parsers of token
requests, credential requests and key proofs — which refuse any input with an OAuth error, never crash."""

import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.demo_oid4vci import key_proof
from services.issuer.oid4vci import (
    PRE_AUTHORIZED_GRANT,
    PROOF_TYP,
    OAuthError,
    credential_offer,
    did_jwk,
    offer_link_by_value,
    parse_credential_request,
    parse_token_request,
    qr_code,
    tx_code_digest,
    verify_key_proof,
)
from shared.credentials.keys import did_key, generate_key

ISSUER = "https://issuer.example.org"
FORM = "application/x-www-form-urlencoded"
_KEY = generate_key()
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def test_a_token_request_names_the_code_and_the_pin() -> None:
    body = urlencode({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": "abc", "tx_code": "0042"})
    parsed = parse_token_request(body.encode(), f"{FORM}; charset=UTF-8")
    assert (parsed.pre_authorized_code, parsed.tx_code) == ("abc", "0042")
    without = parse_token_request(
        urlencode({"grant_type": PRE_AUTHORIZED_GRANT, "pre-authorized_code": "c"}).encode(), FORM
    )
    assert without.tx_code is None


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"grant_type=x", "application/json", "invalid_request"),
        (b"", FORM, "invalid_request"),
        (b"grant_type=authorization_code&code=x", FORM, "unsupported_grant_type"),
        (urlencode({"grant_type": PRE_AUTHORIZED_GRANT}).encode(), FORM, "invalid_request"),
        (b"\xff\xfe", FORM, "invalid_request"),
        (b"a=1&a=2", FORM, "invalid_request"),
        (b"&".join([b"a%d=1" % n for n in range(40)]), FORM, "invalid_request"),
    ],
)
def test_token_requests_are_refused_with_the_oauth_error(body: bytes, content_type: str, error: str) -> None:
    with pytest.raises(OAuthError) as refused:
        parse_token_request(body, content_type)
    assert refused.value.error == error and refused.value.status == 400


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    content_type=st.sampled_from([FORM, None, "text/plain"]),
)
def test_any_token_request_body_is_parsed_or_refused(body: bytes, content_type: str | None) -> None:
    try:
        parsed = parse_token_request(body, content_type)
    except OAuthError as refusal:
        assert refusal.error in {"invalid_request", "unsupported_grant_type"} and str(refusal)
    else:
        assert parsed.pre_authorized_code


def test_a_credential_request_carries_one_jwt_proof_in_either_shape() -> None:
    final = {"credential_configuration_id": "OpenBadgeCredential", "proofs": {"jwt": ["a.b.c"]}}
    legacy = {"credential_configuration_id": "OpenBadgeCredential", "proof": {"proof_type": "jwt", "jwt": "a.b.c"}}
    assert parse_credential_request(final).proof_jwt == parse_credential_request(legacy).proof_jwt == "a.b.c"
    cases = {
        "unknown_credential_configuration": {**final, "credential_configuration_id": "Diploma"},
        "unknown_credential_identifier": {**final, "credential_identifier": "x"},
        "invalid_credential_request": {"proofs": {"jwt": ["a.b.c"]}},
        "invalid_proof": {**final, "proofs": {"jwt": ["a.b.c", "d.e.f"]}},
    }
    for error, request in cases.items():
        with pytest.raises(OAuthError) as refused:
            parse_credential_request(request)
        assert refused.value.error == error


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    value=_JSON,
    member=st.sampled_from(["credential_configuration_id", "proofs", "proof", "credential_identifier"]),
)
def test_any_credential_request_is_parsed_or_refused(value: Any, member: str) -> None:
    base = {"credential_configuration_id": "OpenBadgeCredential", "proofs": {"jwt": ["a.b.c"]}}
    for request in (value, {**base, member: value}, {**base, "proofs": {"jwt": value}}):
        try:
            parsed = parse_credential_request(request)
        except OAuthError as refusal:
            assert refusal.status == 400 and refusal.error and str(refusal)
        else:
            assert isinstance(parsed.proof_jwt, str) and parsed.proof_jwt


def test_a_did_key_proof_names_its_holder_and_nonce() -> None:
    proof = verify_key_proof(key_proof(_KEY, audience=ISSUER, nonce="n-1"), credential_issuer=ISSUER, now=_now())
    assert (proof.holder, proof.nonce) == (did_key(_KEY), "n-1")


def _proof(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return jwt.encode(claims, _KEY, algorithm="EdDSA", headers=header)


_GOOD_HEADER = {"typ": PROOF_TYP, "kid": f"{did_key(_KEY)}#{did_key(_KEY).removeprefix('did:key:')}"}


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        ({**_GOOD_HEADER, "typ": "JWT"}, {}),
        ({**_GOOD_HEADER, "kid": "did:web:evil.example#key-1"}, {}),
        ({**_GOOD_HEADER, "kid": did_key(_KEY) + "#other"}, {}),
        ({**_GOOD_HEADER, "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}}, {}),  # kid and jwk
        ({"typ": PROOF_TYP}, {}),  # no key named
        ({**_GOOD_HEADER, "x5c": ["MII"]}, {}),
        (_GOOD_HEADER, {"aud": "https://elsewhere.example"}),
        (_GOOD_HEADER, {"aud": None}),
        (_GOOD_HEADER, {"iat": None}),
        (_GOOD_HEADER, {"iat": "yesterday"}),
        (_GOOD_HEADER, {"iat": time.time() + 3600}),
        (_GOOD_HEADER, {"nonce": None}),
        (_GOOD_HEADER, {"nonce": 7}),
        (_GOOD_HEADER, {"exp": time.time() - 3600}),
    ],
)
def test_key_proofs_are_refused_as_invalid_proof(header: dict[str, Any], claims: dict[str, Any]) -> None:
    payload = {"aud": ISSUER, "iat": int(time.time()), "nonce": "n", **claims}
    token = _proof(header, {k: v for k, v in payload.items() if v is not None})
    with pytest.raises(OAuthError) as refused:
        verify_key_proof(token, credential_issuer=ISSUER, now=_now())
    assert refused.value.error == "invalid_proof"


def test_a_proof_signed_with_another_algorithm_than_its_key_is_refused() -> None:
    token = jwt.encode(
        {"aud": ISSUER, "iat": int(time.time()), "nonce": "n"},
        "a-shared-secret-long-enough-for-hs256",
        algorithm="HS256",
        headers=_GOOD_HEADER,
    )
    with pytest.raises(OAuthError, match="alg"):
        verify_key_proof(token, credential_issuer=ISSUER, now=_now())


_GOOD = key_proof(_KEY, audience=ISSUER, nonce="n")


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    header=st.dictionaries(st.sampled_from(["typ", "alg", "kid", "jwk", "x5c", "crit"]), _JSON, max_size=4),
    claims=st.dictionaries(st.sampled_from(["aud", "iat", "nonce", "exp", "nbf"]), _JSON, max_size=4),
    text=st.text(max_size=60),
)
def test_any_key_proof_is_verified_or_refused(header: dict[str, Any], claims: dict[str, Any], text: str) -> None:
    segments = _GOOD.split(".")
    mangled = [
        text,
        ".".join([jwt.utils.base64url_encode(json.dumps(header).encode()).decode(), *segments[1:]]),
        ".".join([segments[0], jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), segments[2]]),
        ".".join([segments[0], segments[1], text]),
    ]
    for token in mangled:
        try:
            verify_key_proof(token, credential_issuer=ISSUER, now=_now())
        except OAuthError as refusal:
            assert refusal.error == "invalid_proof" and str(refusal)
            assert re.fullmatch(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*", refusal.body()["error_description"])


def test_offers_pins_and_did_jwk() -> None:
    offer = credential_offer(ISSUER, "code", 6)
    assert offer["grants"][PRE_AUTHORIZED_GRANT]["tx_code"]["length"] == 6
    assert "tx_code" not in credential_offer(ISSUER, "code", None)["grants"][PRE_AUTHORIZED_GRANT]
    assert offer_link_by_value(offer).startswith("openid-credential-offer://?credential_offer=%7B")
    # A PIN's digest depends on its code: the same PIN on two offers is stored differently.
    assert tx_code_digest("a", "1234") != tx_code_digest("b", "1234") == tx_code_digest("b", "1234")
    jwk = {"kty": "EC", "crv": "P-256", "x": "xx", "y": "yy", "kid": "ignored", "use": "sig"}
    assert did_jwk(jwk) == did_jwk({"y": "yy", "x": "xx", "crv": "P-256", "kty": "EC"})
    assert qr_code("openid-credential-offer://?credential_offer_uri=x", "svg").lstrip().startswith(b"<?xml")


def _now() -> datetime:
    return datetime.now(UTC)
