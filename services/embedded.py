"""Embedded mode: all four services in one process, an in-process transport, SQLite files.

The same contracts, handlers, outbox and consumer pipeline as the distributed mode; only the adapters differ.
"""

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime import SERVICES, ServiceParts, Wiring, build_service, database_check
from services.verifier.verification import build_fetcher
from shared.credentials.fetch import DocumentFetcher, FetchedDocument, FetchError
from shared.db.engine import create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings


class IssuerDocuments:
    """The verifier's fetcher in embedded mode: documents on the issuer's public host (DID documents, status lists)
    come from the issuer's ASGI app in-process; any other URL goes to `fallback` (the usual HTTP fetcher)."""

    def __init__(self, issuer_app: FastAPI, issuer_url: str, fallback: DocumentFetcher) -> None:
        self._host = urlsplit(issuer_url).netloc
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=issuer_app), base_url="http://issuer")
        self._fallback = fallback

    async def fetch(self, url: str) -> FetchedDocument:
        parts = urlsplit(url)
        if parts.netloc != self._host:
            return await self._fallback.fetch(url)
        response = await self._client.get(parts.path)
        if response.status_code != 200:
            kind = "not_found" if response.status_code == 404 else "unavailable"
            raise FetchError(url, kind, f"{url}: HTTP {response.status_code} from the in-process issuer")
        return FetchedDocument(url, json.loads(response.content), {k.lower(): v for k, v in response.headers.items()})

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass
class EmbeddedStack:
    settings: Settings
    data_dir: Path
    bus: InMemoryBus = field(default_factory=InMemoryBus)
    parts: dict[str, ServiceParts] = field(default_factory=dict)
    _engines: list[AsyncEngine] = field(default_factory=list)
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    _issuer_documents: IssuerDocuments | None = None

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            # One database file per service: each owns its tables, and writers never wait on each other.
            engine = create_engine(f"sqlite+aiosqlite:///{self.data_dir / name}.db")
            self._engines.append(engine)
            await upgrade(engine, name)
            wiring = Wiring(self.settings, session_factory(engine), self.bus, [database_check(engine)])
            if name == "verifier" and "issuer" in self.parts:
                # Credentials name status lists (and did:web documents) on the issuer's public URL, which no
                # network serves in embedded mode: answer those from the issuer app itself.
                self._issuer_documents = IssuerDocuments(
                    self.parts["issuer"].http, self.settings.issuer_url(), build_fetcher(self.settings)
                )
                wiring.document_fetcher = self._issuer_documents
            parts = build_service(name, wiring)
            for consumer in parts.consumers:
                self.bus.subscribe(consumer)
            for hook in parts.on_start:
                await hook()
            self.parts[name] = parts

    def http(self, service: str) -> httpx.AsyncClient:
        """An HTTP client talking to `service`'s real ASGI app in-process."""
        if service not in self._clients:
            transport = httpx.ASGITransport(app=self.parts[service].http)
            self._clients[service] = httpx.AsyncClient(transport=transport, base_url=f"http://{service}.embedded")
        return self._clients[service]

    async def settle(self) -> int:
        """Relay every outbox until the whole pipeline is quiet; returns how many records moved."""
        moved = 0
        while True:
            round_moved = 0
            for parts in self.parts.values():
                if parts.relay is not None:
                    round_moved += await parts.relay.relay_once()
            if not round_moved:
                return moved
            moved += round_moved

    async def stop(self) -> None:
        for parts in self.parts.values():
            for hook in parts.on_stop:
                await hook()
        for client in self._clients.values():
            await client.aclose()
        if self._issuer_documents is not None:
            await self._issuer_documents.aclose()
        await asyncio.gather(*(engine.dispose() for engine in self._engines))
