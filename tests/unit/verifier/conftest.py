"""The verifier tests reuse the credentials tests' fixed issuer key, sample credentials and clock."""

from tests.unit.credentials.conftest import (  # noqa: F401 (fixtures)
    issuer_key,
    now,
    signed_at,
    signed_credential,
    unsigned_credential,
)
