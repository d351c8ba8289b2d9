"""Shared fixtures for the credentials unit tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import did_key, did_key_verification_method, key_from_seed, sign_credential

from .samples import minimal_credential

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SIGNED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """Copy of ../shared/standards/vectors (1EdTech OB 3.0 eddsa-rdfc-2022 vector)."""
    return FIXTURES / "vectors"


@pytest.fixture(scope="session")
def load_json() -> Any:
    """Return a function that reads a JSON file."""
    return _load_json


@pytest.fixture(scope="session")
def now() -> datetime:
    """The verification time used by the tests (inside every test credential's validity window)."""
    return datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def signed_at() -> datetime:
    """The proof creation time used by the tests."""
    return SIGNED_AT


@pytest.fixture
def issuer_key() -> Ed25519PrivateKey:
    """A fixed issuer key (deterministic seed) so failures are reproducible."""
    return key_from_seed(bytes(range(32)))


@pytest.fixture
def unsigned_credential(issuer_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A minimal realistic OB 3.0 credential issued by the did:key of ``issuer_key``."""
    return minimal_credential(did_key(issuer_key), "urn:uuid:0b5a4e1e-0d44-4a3c-9c1c-2a6f0e3d9b11")


@pytest.fixture
def signed_credential(unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey) -> dict[str, Any]:
    """``unsigned_credential`` signed with eddsa-rdfc-2022 by its did:key issuer."""
    return sign_credential(unsigned_credential, issuer_key, did_key_verification_method(issuer_key), SIGNED_AT)
