"""A real browser against the real verifier app: Debian's Chromium driven by Playwright, the verifier served by
uvicorn on 127.0.0.1 (a free port) on top of the embedded stack (all four services, in-process bus, SQLite)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from services.embedded import EmbeddedStack
from tests.badges import badge_settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# As root in a container: no sandbox; and nothing may reach out to the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None. Locally they skip; in CI (CI=true) they must run."""
    if os.environ.get("CI"):
        return None
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"{CHROMIUM} missing: `make browser-deps` installs Debian's chromium"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (make venv)"
    return None


@dataclass
class ServedStack:
    """The embedded stack with its verifier listening on `base_url` and its issuer on `issuer_url`."""

    stack: EmbeddedStack
    base_url: str
    issuer_url: str
    extra: dict[str, Any] = field(default_factory=dict)


def _listening_socket() -> tuple[socket.socket, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ServedStack]:
    # Bind first, so the public URLs (og:url, LinkedIn certUrl, status list URLs) name the ports really served.
    # The issuer is served too: credentials point at its status lists and DID documents.
    verifier_sock, verifier_url = _listening_socket()
    issuer_sock, issuer_url = _listening_socket()
    settings = badge_settings(CREDSTREAM_PUBLIC_BASE_URL=verifier_url, CREDSTREAM_ISSUER_BASE_URL=issuer_url)
    stack = EmbeddedStack(settings, tmp_path / "data")
    await stack.start()
    servers = []
    for name, sock in (("verifier", verifier_sock), ("issuer", issuer_sock)):
        server = uvicorn.Server(
            uvicorn.Config(stack.parts[name].http, log_level="warning", lifespan="off", access_log=False)
        )
        servers.append((server, asyncio.create_task(server.serve(sockets=[sock])), sock))
    for _ in range(200):
        if all(server.started for server, _, _ in servers):
            break
        await asyncio.sleep(0.025)
    assert all(server.started for server, _, _ in servers), "uvicorn did not start"
    try:
        yield ServedStack(stack, verifier_url, issuer_url)
    finally:
        for server, _, _ in servers:
            server.should_exit = True
        for _, task, sock in servers:
            await task
            sock.close()
        await stack.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()
