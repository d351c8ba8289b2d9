"""What the service benchmarks share: the machine's load, a process's CPU time, throwaway PostgreSQL databases,
and the tree of an earlier git ref to compare against (same virtualenv)."""

from __future__ import annotations

import os
import subprocess
import tarfile
import uuid
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from shared.db.scratch import admin_dsn, create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def export(ref: str, into: Path) -> Path:
    """The files of git ref `ref`, to run its services with PYTHONPATH pointing there."""
    archive = into / f"{ref.replace('/', '_')}.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), ref], cwd=ROOT, check=True)
    tree = into / ref.replace("/", "_")
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


class Database:
    """A fresh database on the server of DATABASE_URL, dropped afterwards."""

    def __init__(self, prefix: str) -> None:
        self._server = os.environ["DATABASE_URL"]
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.url: URL = make_url(self._server).set(database=self.name)

    def dsn(self) -> str:
        """For asyncpg directly."""
        return admin_dsn(self.sqlalchemy_url())

    def sqlalchemy_url(self) -> str:
        return self.url.render_as_string(hide_password=False)

    async def __aenter__(self) -> Database:
        await create_database(self._server, self.name)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await drop_database(self._server, self.name)


def postgres_server_pid(port: int) -> int | None:
    """The postmaster listening on `port` when it runs on this machine: a `postgres -D <dir>` process whose
    `<dir>/postmaster.pid` names it and that port (several servers may run here, one per developer)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
            if not argv[0].endswith(b"postgres") or b"-D" not in argv:
                continue
            lines = (Path(argv[argv.index(b"-D") + 1].decode()) / "postmaster.pid").read_text().splitlines()
        except (OSError, IndexError, UnicodeDecodeError):
            continue
        if len(lines) > 3 and lines[0] == cmdline.parent.name and lines[3].strip() == str(port):
            return int(lines[0])
    return None


def process_tree_cpu_seconds(root: int) -> float:
    """CPU time of `root` and its children (a PostgreSQL server: the postmaster and its backends)."""
    total = cpu_seconds(root)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == root:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total
