"""Run credstream services as separate OS processes (`python -m services.cli serve <name>`) for e2e tests."""

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers import eventually
from tests.infra import REPO

SERVICES = ("enrollment", "assessment", "issuer", "verifier")
ADMIN_TOKEN = "e2e-admin-token"
LMS_KEY = "e2e-lms-key"
TENANT = "e2e-school"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServiceProcesses:
    kafka: str
    database_url: str
    log_dir: Path
    group: str
    ports: dict[str, int] = field(default_factory=lambda: {name: free_port() for name in SERVICES})
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def env(self, name: str) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
            "DATABASE_URL": self.database_url,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.ports[name]),
            "CREDSTREAM_CONSUMER_GROUP_PREFIX": self.group,
            "CREDSTREAM_ADMIN_TOKEN": ADMIN_TOKEN,
            "CREDSTREAM_LMS_API_KEYS": f"{TENANT}:{LMS_KEY}",
            "CREDSTREAM_ISSUERS": json.dumps({TENANT: {"name": "E2E School", "url": "https://school.example"}}),
            "CREDSTREAM_PUBLIC_BASE_URL": self.url("verifier"),
            # Status lists are served by the issuer; the verifier fetches them over loopback http (dev only).
            "CREDSTREAM_ISSUER_BASE_URL": self.url("issuer"),
            "CREDSTREAM_INSECURE_HTTP_HOSTS": "127.0.0.1",
            "LOG_FORMAT": "json",
        }

    def start(self, name: str, *, replica: int = 1) -> str:
        """Start a service (replica n > 1 of it is named `<service>-<n>`, on its own port); returns that name."""
        key = name if replica == 1 else f"{name}-{replica}"
        self.ports.setdefault(key, free_port())
        log = (self.log_dir / f"{key}.log").open("ab")
        self.running[key] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name],
            cwd=REPO,
            env=self.env(key),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return key

    def kill(self, name: str) -> None:
        """kill -9: no shutdown hooks, no final commit, no outbox drain."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> dict[str, int]:
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        self.running.clear()
        return codes

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]

    async def wait_ready(self, client: httpx.AsyncClient, *names: str) -> None:
        for name in names or SERVICES:

            async def ready(name: str = name) -> bool:
                try:
                    return (await client.get(f"{self.url(name)}/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=90, interval=0.3)
