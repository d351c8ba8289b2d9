"""The demo's webhook receiver: a real HTTP endpoint on 127.0.0.1 that the webhooks service delivers to, checking
every delivery's Standard Webhooks signature with the reference library (`standardwebhooks`), as an integrator's
receiver would."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = "/credstream-webhooks"
HOST = "127.0.0.1"


@dataclass
class Delivery:
    webhook_id: str
    payload: dict[str, Any]


@dataclass
class WebhookReceiver:
    """Listens on a free port of 127.0.0.1 (bound at construction, so the URL is known before the stack starts)."""

    secret: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _socket: socket.socket = field(init=False)
    _server: uvicorn.Server | None = field(default=None, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((HOST, 0))

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._socket.getsockname()[1]}{PATH}"

    async def _receive(self, request: Request) -> Response:
        from standardwebhooks import Webhook
        from standardwebhooks.webhooks import WebhookVerificationError

        body = await request.body()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError as error:
            self.refused.append(str(error))
            return Response(status_code=400)
        self.deliveries.append(Delivery(request.headers["webhook-id"], payload))
        return Response(status_code=204)

    async def start(self) -> None:
        app = Starlette(routes=[Route(PATH, self._receive, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        for _ in range(500):
            if self._server.started:
                return
            await asyncio.sleep(0.01)
        raise RuntimeError("the webhook receiver did not start")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._socket.close()

    async def subscribe(self, webhooks: httpx.AsyncClient, tenant: str, admin: dict[str, str]) -> str:
        """Subscribe this receiver to the tenant's badge events; keeps the secret (shown once) to verify with."""
        response = await webhooks.post(
            f"/v1/tenants/{tenant}/webhooks",
            json={"url": self.url, "events": ["badge.issued", "badge.revoked"]},
            headers=admin,
        )
        response.raise_for_status()
        subscription = response.json()
        self.secret = subscription["secret"]
        return str(subscription["id"])

    async def wait_for(self, count: int, *, timeout: float = 60.0) -> bool:
        """Until `count` verified deliveries arrived (the delivery loop polls every second); False on timeout."""
        for _ in range(int(timeout / 0.1)):
            if len(self.deliveries) >= count:
                return True
            await asyncio.sleep(0.1)
        return len(self.deliveries) >= count


def delivery_lines(deliveries: list[Delivery], name_of: Callable[[str], str]) -> list[str]:
    """One line per delivery, in the order received: type, webhook-id, whose badge."""
    lines = []
    for delivery in deliveries:
        data = delivery.payload.get("data", {})
        kind = delivery.payload.get("type", "?")
        copy = " (wallet copy)" if data.get("award_credential_id") else ""
        lines.append(f"  {kind:<14} {delivery.webhook_id}  {name_of(data.get('credential_id', ''))}{copy}")
    return lines
