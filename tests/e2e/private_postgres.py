"""A PostgreSQL cluster of one test's own (deploy/local/postgres.sh on a free port, data under /tmp), so the test may
kill -9 its postmaster without disturbing the shared instance other tests and helpers use."""

import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.processes import free_port
from tests.infra import REPO

SCRIPT = REPO / "deploy/local/postgres.sh"


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    psql = shutil.which("psql")
    if psql is None:
        raise RuntimeError("psql not found (install the Debian 'postgresql' package)")
    return Path(psql).parent


@dataclass
class PrivatePostgres:
    state: Path  # the script's lock and logs: anywhere of the test's own
    port: int = field(default_factory=free_port)
    # Under /tmp itself: as root the cluster runs as the `postgres` user, who cannot enter pytest's tmp_path.
    data: Path = field(default_factory=lambda: Path(f"/tmp/credstream-pg-e2e-{uuid.uuid4().hex[:10]}"))

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://credstream:credstream@127.0.0.1:{self.port}/credstream"

    def _script(self, command: str) -> None:
        env = {**os.environ, "PG_PORT": str(self.port), "PG_DATA": str(self.data), "CREDSTREAM_STATE": str(self.state)}
        self.state.mkdir(parents=True, exist_ok=True)
        # Files, not pipes: the server it starts must not hold a pipe of ours open.
        with (self.state / f"{command}.out").open("ab") as out:
            subprocess.run(
                [str(SCRIPT), command],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                check=True,
                timeout=600,
            )

    def start(self) -> None:
        """Start (or, after a crash, recover) the cluster; returns once it accepts connections."""
        self._script("start")

    def stop(self) -> None:
        self._script("stop")

    def remove(self) -> None:
        """Stop it and delete its data."""
        self._script("reset")

    def kill_postmaster(self) -> int:
        """kill -9 of the postmaster: no shutdown checkpoint, so the next start replays the WAL since the last one."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        return pid

    def superuser(self, sql: str) -> None:
        """Run `sql` as the cluster's superuser (over its unix socket, as its OS owner)."""
        command = [str(_bindir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
        command += ["-h", str(self.data), "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", sql]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, cwd="/", check=True, capture_output=True, timeout=60)
