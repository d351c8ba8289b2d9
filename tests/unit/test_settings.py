"""Production refuses development secrets; LMS keys parse into key -> tenant."""

import pytest
from pydantic import ValidationError

from shared.settings import Settings


def test_production_refuses_default_secrets() -> None:
    with pytest.raises(ValidationError, match=r"CREDSTREAM_ADMIN_TOKEN.*CREDSTREAM_KEY_ENCRYPTION_KEY"):
        Settings(_env_file=None, CREDSTREAM_ENV="production", CREDSTREAM_LMS_API_KEYS="acme:k1")


def test_production_starts_with_real_secrets() -> None:
    settings = Settings(
        _env_file=None,
        CREDSTREAM_ENV="production",
        CREDSTREAM_ADMIN_TOKEN="a-long-random-token",
        CREDSTREAM_LMS_API_KEYS="acme:k1, globex:k2",
        CREDSTREAM_KEY_ENCRYPTION_KEY="another-long-random-secret",
        CREDSTREAM_PUBLIC_BASE_URL="https://badges.example.org",  # production issuers are did:web: https only
    )
    assert settings.lms_keys() == {"k1": "acme", "k2": "globex"}
    assert "a-long-random-token" not in repr(settings)  # secrets never appear in logs or reprs
