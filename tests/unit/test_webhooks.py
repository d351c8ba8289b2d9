"""Webhooks without a network: Standard Webhooks signatures checked by the `standardwebhooks` library, secret
parsing (Hypothesis), the retry schedule with a fake jitter source, and the SSRF policy of endpoint URLs."""

import base64
import ipaddress
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.webhooks.domain import (
    InvalidSecret,
    RetryPolicy,
    new_secret,
    parse_secret,
    webhook_headers,
)
from shared.credentials.fetch import FetchError, HttpDocumentFetcher
from shared.settings import Settings

BODY = b'{"type":"badge.issued","timestamp":"2026-12-01T10:00:00+00:00","data":{"tenant_id":"demo"}}'


def test_our_signature_verifies_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    headers = webhook_headers([parse_secret(secret)], "msg_1", datetime.now(UTC), BODY)
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "badge.issued",
        "timestamp": "2026-12-01T10:00:00+00:00",
        "data": {"tenant_id": "demo"},
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"demo", b"acme"), headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = new_secret(), new_secret()
    headers = webhook_headers([parse_secret(new), parse_secret(old)], "msg_2", datetime.now(UTC), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers)
    assert Webhook(new).verify(BODY, headers)


@given(st.binary(min_size=24, max_size=64))
def test_a_secret_of_24_to_64_bytes_parses_back(key: bytes) -> None:
    assert parse_secret("whsec_" + base64.b64encode(key).decode()) == key


@given(st.text(max_size=120))
def test_any_other_text_is_refused_with_invalid_secret(text: str) -> None:
    try:
        key = parse_secret(text)
    except InvalidSecret as refused:
        assert str(refused).startswith("a webhook secret")  # says what is wrong, never echoes the secret
    else:
        assert text.startswith("whsec_") and 24 <= len(key) <= 64


@given(st.binary(max_size=23) | st.binary(min_size=65, max_size=200))
def test_keys_too_short_or_too_long_are_refused(key: bytes) -> None:
    with pytest.raises(InvalidSecret):
        parse_secret("whsec_" + base64.b64encode(key).decode())


def test_new_secrets_are_24_random_bytes() -> None:
    assert len(parse_secret(new_secret())) == 24
    assert new_secret() != new_secret()


@given(st.integers(min_value=1, max_value=19), st.floats(min_value=0, max_value=1, exclude_max=True))
def test_each_wait_lies_between_half_and_all_of_the_doubling_capped_delay(failures: int, draw: float) -> None:
    policy = RetryPolicy()
    ceiling = min(3600.0, 5.0 * 2 ** (failures - 1))
    delay = policy.delay(failures, lambda: draw)
    assert delay is not None
    assert timedelta(seconds=ceiling / 2) <= delay <= timedelta(seconds=ceiling)


def test_the_schedule_spans_hours_then_dead_letters() -> None:
    policy = RetryPolicy()
    shortest = [policy.delay(n, lambda: 0.0) for n in range(1, policy.max_attempts)]
    longest = [policy.delay(n, lambda: 1.0) for n in range(1, policy.max_attempts)]
    assert [d.total_seconds() for d in longest[:4]] == [5.0, 10.0, 20.0, 40.0]  # type: ignore[union-attr]
    assert longest[-1] == timedelta(hours=1)
    total_shortest = sum((d for d in shortest if d is not None), timedelta())
    total_longest = sum((d for d in longest if d is not None), timedelta())
    assert timedelta(hours=5) < total_shortest < total_longest < timedelta(hours=12)
    assert policy.delay(policy.max_attempts, lambda: 0.5) is None


PRIVATE = st.one_of(
    st.ip_addresses(v=4, network="10.0.0.0/8"),
    st.ip_addresses(v=4, network="127.0.0.0/8"),
    st.ip_addresses(v=4, network="169.254.0.0/16"),
    st.ip_addresses(v=4, network="192.168.0.0/16"),
    st.ip_addresses(v=6, network="::1/128"),
    st.ip_addresses(v=6, network="fc00::/7"),
)


def _url(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"https://{host}/hooks"


@given(PRIVATE)
async def test_endpoints_at_private_addresses_are_refused(address: ipaddress.IPv4Address) -> None:
    with pytest.raises(FetchError, match="non-public"):
        await HttpDocumentFetcher().check_url(_url(address))


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/in", "ftp://hooks.example.com/in", "https://user:pw@hooks.example.com/in", "https:///x"],
)
async def test_plain_http_other_schemes_and_credentials_are_refused(url: str) -> None:
    with pytest.raises(FetchError):
        await HttpDocumentFetcher().check_url(url)


async def test_the_admin_api_refuses_a_private_endpoint_and_needs_the_admin_token(settings: Settings) -> None:
    from services.runtime import Wiring, build_service
    from shared.db.engine import create_engine, session_factory

    engine = create_engine("sqlite+aiosqlite://")
    parts = build_service("webhooks", Wiring(settings, session_factory(engine), None))  # type: ignore[arg-type]
    body = {"url": "https://192.168.1.10/hooks", "events": ["badge.issued"]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(parts.http), base_url="http://t") as client:
        denied = await client.post("/v1/tenants/demo/webhooks", json=body)
        assert denied.status_code == 401
        refused = await client.post(
            "/v1/tenants/demo/webhooks", json=body, headers={"Authorization": "Bearer dev-admin-token"}
        )
        assert refused.status_code == 422
        assert "non-public" in refused.json()["detail"]
    await engine.dispose()
