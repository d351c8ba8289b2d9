"""VC-JWTs made by panva's `jose` (npm, tests/interop/josejwt.mjs) verify in ours for RS256, ES256 and EdDSA, and
tampered, expired, mis-keyed or inconsistent ones fail with their code (the cases of
tests/unit/credentials/test_credentials_vcjwt.py, where `none` and HS256-with-the-public-key are made by hand:
jose refuses to make them). Offline, as test_digital_bazaar.py."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.interop.test_digital_bazaar import HERE, pytestmark  # noqa: F401
from tests.unit.credentials.test_credentials_vcjwt import (
    PrivateKey,
    assert_jwks_and_did_jwk_cases,
    assert_jwt_cases,
    private_jwk,
)


def jose_sign(key: PrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    request = json.dumps({"jwk": private_jwk(key), "header": header, "payload": claims})
    done = subprocess.run(
        ["node", str(HERE / "josejwt.mjs")], input=request, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_jose_tokens() -> None:
    assert_jwt_cases(jose_sign)


def test_jose_tokens_with_jwks_and_did_jwk_keys() -> None:
    """jose-signed tokens whose key is a did:jwk issuer's or in the issuer's JWK Set (jku, kid URL, well-known)."""
    assert_jwks_and_did_jwk_cases(jose_sign)
