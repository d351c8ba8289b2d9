"""Embedded mode: all four services in one process, an in-process transport, SQLite files.

The same contracts, handlers, outbox and consumer pipeline as the distributed mode; only the adapters differ.
"""

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime import SERVICES, ServiceParts, Wiring, build_service, database_check
from shared.db.engine import create_engine, session_factory
from shared.db.migrations import upgrade
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings


@dataclass
class EmbeddedStack:
    settings: Settings
    data_dir: Path
    bus: InMemoryBus = field(default_factory=InMemoryBus)
    parts: dict[str, ServiceParts] = field(default_factory=dict)
    _engines: list[AsyncEngine] = field(default_factory=list)
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            # One database file per service: each owns its tables, and writers never wait on each other.
            engine = create_engine(f"sqlite+aiosqlite:///{self.data_dir / name}.db")
            self._engines.append(engine)
            await upgrade(engine, name)
            parts = build_service(
                name, Wiring(self.settings, session_factory(engine), self.bus, [database_check(engine)])
            )
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
        for client in self._clients.values():
            await client.aclose()
        await asyncio.gather(*(engine.dispose() for engine in self._engines))
