"""Per-LMS connections: who may send what for which tenant, and how each request proves it. Pure (no I/O).

- API key: a random token shown once at creation; only its SHA-256 is stored (it is high-entropy, so a plain hash
  is enough and lets the key itself be the lookup). Sent as `Authorization: Bearer`, `X-API-Key`, or as the
  password of HTTP Basic auth (what xAPI LRS clients such as Moodle's logstore_xapi send).
- HMAC-signed requests: `X-Credstream-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`,
  accepted within ±5 minutes, compared in constant time; several `v1=` values may be sent during a secret rotation.
  The secret must be usable to recompute the MAC, so it is stored encrypted (AES-256-GCM), not hashed.
- JWT-signed bodies (Canvas Live Events "signed" delivery): the body is a compact JWS verified with the
  connection's public key (RS*/ES*/EdDSA) or shared secret (HS*) using PyJWT; its claims are the payload.
- Rate limit: a token bucket per connection, in-process — so the limit is per replica (N replicas allow N times the
  rate); one request costs one token whatever its batch size.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt

from services.enrollment.formats.common import Format

SIGNATURE_HEADER = "x-credstream-signature"
CONNECTION_HEADER = "x-credstream-connection"
SIGNATURE_TOLERANCE_SECONDS = 300
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
SYMMETRIC_ALGORITHMS = ("HS256", "HS384", "HS512")


class SourceKind(StrEnum):
    """What an LMS connection speaks; decides which endpoints/formats it may use."""

    NATIVE = "native"
    XAPI = "xapi"
    CALIPER = "caliper"
    CANVAS = "canvas"  # Canvas Live Events, either format (Caliper or Canvas), plus AGS scores from Canvas
    LTI_AGS = "lti-ags"
    ANY = "any"  # bootstrap keys from CREDSTREAM_LMS_API_KEYS


FORMATS: dict[SourceKind, frozenset[Format]] = {
    SourceKind.NATIVE: frozenset({Format.NATIVE}),
    SourceKind.XAPI: frozenset({Format.XAPI}),
    SourceKind.CALIPER: frozenset({Format.CALIPER}),
    SourceKind.CANVAS: frozenset({Format.CALIPER, Format.CANVAS, Format.LTI_AGS}),
    SourceKind.LTI_AGS: frozenset({Format.LTI_AGS}),
    SourceKind.ANY: frozenset(Format),
}


class AuthMethod(StrEnum):
    API_KEY = "api-key"
    HMAC = "hmac"
    JWT = "jwt"


class AuthenticationError(Exception):
    """The request does not prove it comes from the connection (the message says why, without secrets)."""


def new_secret() -> str:
    """A fresh API key or HMAC secret: 256 bits, URL-safe."""
    return "csk_" + secrets.token_urlsafe(32)


def new_connection_id() -> str:
    return "conn_" + secrets.token_hex(8)


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Credstream-Signature` header value an LMS sends (also used by tests and client examples)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str | None, *, now: float | None = None) -> None:
    """Raise AuthenticationError unless `header` is a fresh, valid HMAC of `body` under `secret`."""
    if not header:
        raise AuthenticationError("the X-Credstream-Signature header is required for this connection")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise AuthenticationError("X-Credstream-Signature must read t=<unix seconds>,v1=<hex hmac-sha256>")
    current = time.time() if now is None else now
    if abs(current - timestamp) > SIGNATURE_TOLERANCE_SECONDS:
        raise AuthenticationError("the signature timestamp is more than 5 minutes away from the server's clock")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    # Compare against every candidate (no early exit) so timing reveals nothing about which one matched.
    valid = [hmac.compare_digest(expected.encode(), c.encode()) for c in candidates]
    if not any(valid):
        raise AuthenticationError("the signature does not match the body")


@dataclass(frozen=True)
class JwtVerifier:
    """Verifies a JWT-signed body with a public key (PEM) or a shared secret, for the configured algorithms."""

    algorithms: tuple[str, ...]
    public_key_pem: str | None = None
    shared_secret: str | None = None
    issuer: str | None = None

    def __post_init__(self) -> None:
        if bool(self.public_key_pem) == bool(self.shared_secret):
            raise ValueError("configure exactly one of a public key or a shared secret")
        allowed = ASYMMETRIC_ALGORITHMS if self.public_key_pem else SYMMETRIC_ALGORITHMS
        wrong = [a for a in self.algorithms if a not in allowed]
        if not self.algorithms or wrong:
            raise ValueError(f"algorithms must be among {', '.join(allowed)} for this kind of key")
        if self.public_key_pem:
            jwt.algorithms.get_default_algorithms()[self.algorithms[0]].prepare_key(self.public_key_pem)

    def claims(self, token: bytes) -> dict[str, Any]:
        key = self.public_key_pem or self.shared_secret
        try:
            return jwt.decode(
                token.strip(),
                key,
                algorithms=list(self.algorithms),
                issuer=self.issuer,
                leeway=SIGNATURE_TOLERANCE_SECONDS,
                options={"verify_aud": False, "require": ["iss"] if self.issuer else []},
            )
        except jwt.PyJWTError as error:
            raise AuthenticationError(f"the JWT-signed body does not verify: {error}") from None


@dataclass
class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up."""

    rate: float
    burst: float
    tokens: float = field(default=-1.0)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, now: float | None = None) -> float:
        """0 when a token was taken; otherwise the seconds until one is available."""
        current = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (current - self.updated) * self.rate)
        self.updated = current
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimiter:
    """One token bucket per connection (per process: each replica limits on its own)."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after(self, connection_id: str, rate: float, burst: float, now: float | None = None) -> float:
        bucket = self._buckets.get(connection_id)
        if bucket is None or bucket.rate != rate or bucket.burst != burst:
            bucket = self._buckets[connection_id] = TokenBucket(rate, burst, updated=now or time.monotonic())
        return bucket.take(now)
