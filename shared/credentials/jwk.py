"""Public keys given as JSON Web Keys (RFC 7517): a VC-JWT's ``jwk`` header, a ``JsonWebKey`` method's
``publicKeyJwk``. Parsed by PyJWT; only RSA, EC and OKP public keys (never ``oct``, never a private key)."""

from __future__ import annotations

from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .errors import KeyFormatError

JwkPublicKey = RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def public_key_from_jwk(jwk: Any) -> JwkPublicKey:
    """The public key of ``jwk``; raises :class:`KeyFormatError` for private, symmetric or unusable keys."""
    if not isinstance(jwk, dict):
        raise KeyFormatError("a JWK must be a JSON object")
    if any(member in jwk for member in _PRIVATE_MEMBERS) or jwk.get("kty") not in ("RSA", "EC", "OKP"):
        raise KeyFormatError("a JWK here must be an RSA, EC or OKP public key")
    try:
        key = jwt.PyJWK(jwk).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as error:
        raise KeyFormatError(f"not a usable JWK: {error}") from error
    if not isinstance(key, JwkPublicKey):
        raise KeyFormatError("the JWK is not a public key")
    return key


def jwks_signing_key(jwks: Any, kid: str | None) -> tuple[dict[str, Any], JwkPublicKey]:
    """The signing key ``kid`` names in the JWK Set ``jwks`` (RFC 7517 §5), with its JWK members.

    Keys marked ``"use": "enc"`` are not signing keys. Without a ``kid`` the set must hold exactly one signing
    key. Raises :class:`KeyFormatError` when the set is malformed, the key is missing or ambiguous, or unusable.
    """
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise KeyFormatError("not a JWK Set: no 'keys' array")
    signing = [k for k in keys if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    if kid is not None:
        signing = [k for k in signing if k.get("kid") == kid]
    if not signing:
        raise KeyFormatError(f"the JWK Set has no signing key {'with kid ' + repr(kid) if kid else ''}".strip())
    if len(signing) > 1:
        raise KeyFormatError(f"the JWK Set has {len(signing)} signing keys {'with kid ' + repr(kid) if kid else ''}")
    return signing[0], public_key_from_jwk(signing[0])
