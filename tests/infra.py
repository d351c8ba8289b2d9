"""Where the tests' Kafka and PostgreSQL come from: the environment, else testcontainers (when a Docker engine
answers), else the project's own scripts in deploy/local (real Kafka from Maven Central jars, Debian PostgreSQL)."""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    database_url: str
    owned: bool  # started by the tests, so they may reset it


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _from_local_scripts() -> Infrastructure:
    # Files, not pipes: a started daemon that kept an inherited pipe open would make us wait for EOF forever.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        code = subprocess.call(
            [str(REPO / "deploy/local/infra.sh"), "up"], stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=900
        )
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if code != 0:
        raise RuntimeError(f"deploy/local/infra.sh up failed:\n{stderr[-4000:]}")
    values = {}
    for line in stdout.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = value.strip().strip("'\"")
    return Infrastructure(values["KAFKA_BOOTSTRAP_SERVERS"], values["DATABASE_URL"], owned=True)


def _from_testcontainers() -> Infrastructure:  # pragma: no cover - no Docker engine on the CI machines
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("apache/kafka:4.1.0").with_kraft().start()
    postgres = PostgresContainer("postgres:15", driver="asyncpg").start()
    return Infrastructure(kafka.get_bootstrap_server(), postgres.get_connection_url(), owned=True)


def provide() -> Infrastructure:
    kafka, database = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if kafka and database:
        return Infrastructure(kafka, database, owned=False)
    if _docker_answers():
        return _from_testcontainers()
    return _from_local_scripts()
