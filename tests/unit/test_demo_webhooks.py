"""The demo's webhook receiver accepts only deliveries whose Standard Webhooks signature checks out."""

import json
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from services.demo_webhooks import WebhookReceiver, delivery_lines
from services.webhooks.domain import new_secret, parse_secret, webhook_headers


async def test_a_signed_delivery_is_kept_and_a_forged_one_refused() -> None:
    receiver = WebhookReceiver(secret=new_secret())
    await receiver.start()
    try:
        body = json.dumps({"type": "badge.issued", "data": {"credential_id": "urn:uuid:1"}}).encode()
        signed = webhook_headers([parse_secret(receiver.secret)], "msg_1", datetime.now(UTC), body)
        forged = webhook_headers([parse_secret(new_secret())], "msg_2", datetime.now(UTC), body)
        async with httpx.AsyncClient() as client:
            assert (await client.post(receiver.url, content=body, headers=signed)).status_code == 204
            assert (await client.post(receiver.url, content=body, headers=forged)).status_code == 400
    finally:
        await receiver.stop()
    assert [d.webhook_id for d in receiver.deliveries] == ["msg_1"] and len(receiver.refused) == 1
    assert Webhook(receiver.secret).verify(body, signed) == receiver.deliveries[0].payload
    assert delivery_lines(receiver.deliveries, lambda c: f"<{c}>") == ["  badge.issued   msg_1  <urn:uuid:1>"]
