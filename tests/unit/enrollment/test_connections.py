"""Connection credentials: HMAC signatures (fresh, exact, constant-time), JWT-signed bodies, token buckets."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.enrollment.adapters.secrets import SecretBox
from services.enrollment.connections import (
    AuthenticationError,
    JwtVerifier,
    RateLimiter,
    TokenBucket,
    sign,
    verify_signature,
)

SECRET = "csk_test-secret"
BODY = b'{"sensor": "x", "data": []}'


def test_a_valid_signature_verifies() -> None:
    now = int(time.time())
    verify_signature(SECRET, BODY, sign(SECRET, BODY, now), now=now)
    # During a rotation the LMS may sign with both the old and the new secret.
    both = sign("old-secret", BODY, now) + "," + sign(SECRET, BODY, now).split(",")[1]
    verify_signature(SECRET, BODY, both, now=now)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "required"),
        ("v1=abc", "t=<unix seconds>"),
        ("t=1700000000", "t=<unix seconds>"),
    ],
)
def test_malformed_signature_headers(header: str | None, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        verify_signature(SECRET, BODY, header, now=1700000000)


def test_tampered_bodies_wrong_secrets_and_stale_signatures_fail() -> None:
    now = int(time.time())
    with pytest.raises(AuthenticationError, match="does not match"):
        verify_signature(SECRET, BODY + b" ", sign(SECRET, BODY, now), now=now)
    with pytest.raises(AuthenticationError, match="does not match"):
        verify_signature(SECRET, BODY, sign("other", BODY, now), now=now)
    with pytest.raises(AuthenticationError, match="5 minutes"):
        verify_signature(SECRET, BODY, sign(SECRET, BODY, now - 301), now=now)
    with pytest.raises(AuthenticationError, match="5 minutes"):
        verify_signature(SECRET, BODY, sign(SECRET, BODY, now + 301), now=now)
    verify_signature(SECRET, BODY, sign(SECRET, BODY, now - 299), now=now)


def rsa_pair() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, public.decode()


def test_jwt_signed_bodies_verify_with_the_public_key() -> None:
    key, public = rsa_pair()
    verifier = JwtVerifier(("RS256",), public_key_pem=public)
    claims = {"sensor": "http://canvas.example/", "data": [{"id": "urn:uuid:1"}]}
    assert verifier.claims(jwt.encode(claims, key, algorithm="RS256").encode()) == claims
    other, _ = rsa_pair()
    with pytest.raises(AuthenticationError):
        verifier.claims(jwt.encode(claims, other, algorithm="RS256").encode())
    with pytest.raises(AuthenticationError):  # algorithm confusion: HS256 with the public key as the secret
        verifier.claims(jwt.encode(claims, "x" * 32, algorithm="HS256").encode())
    with pytest.raises(AuthenticationError):
        verifier.claims(b"not a jwt")


def test_jwt_shared_secret_issuer_and_expiry() -> None:
    verifier = JwtVerifier(("HS256",), shared_secret="s" * 32, issuer="canvas")
    good = jwt.encode({"iss": "canvas", "body": {}}, "s" * 32, algorithm="HS256")
    assert verifier.claims(good.encode())["body"] == {}
    with pytest.raises(AuthenticationError):
        verifier.claims(jwt.encode({"iss": "other"}, "s" * 32, algorithm="HS256").encode())
    with pytest.raises(AuthenticationError):
        verifier.claims(jwt.encode({"iss": "canvas", "exp": int(time.time()) - 3600}, "s" * 32).encode())


@pytest.mark.parametrize(
    "config",
    [
        {"algorithms": ("HS256",), "public_key_pem": "pem"},
        {"algorithms": ("RS256",), "shared_secret": "s" * 32},
        {"algorithms": ("RS256",)},
        {"algorithms": ("none",), "shared_secret": "s" * 32},
    ],
)
def test_jwt_configuration_mistakes_are_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        JwtVerifier(**config)  # type: ignore[arg-type]


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2, burst=3, updated=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0, 0, 0]
    assert bucket.take(100.0) == pytest.approx(0.5)
    assert bucket.take(100.5) == 0
    limiter = RateLimiter()
    assert limiter.retry_after("c1", 1, 1, now=10.0) == 0
    assert limiter.retry_after("c1", 1, 1, now=10.0) > 0
    assert limiter.retry_after("c2", 1, 1, now=10.0) == 0  # buckets are per connection


def test_sealed_secrets_open_only_for_their_connection() -> None:
    box = SecretBox("kek")
    sealed = box.seal("s3cret", "conn_a")
    assert box.open(sealed, "conn_a") == "s3cret"
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        box.open(sealed, "conn_b")
    with pytest.raises(Exception):  # noqa: B017
        SecretBox("other").open(sealed, "conn_a")
