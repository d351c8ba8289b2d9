"""Issue 7 §1 on badges signed by Digital Bazaar's vc: re-keyed members are still seen, and refused.

The badges (revoked, expired, not yet valid, sound) are signed by ``dbvc.mjs sign --seed`` with the same key
our status list is signed with, so the revocation is real; each re-keying form of each member is then
verified through ``credstream verify`` and ``POST /verify``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from services.cli import main
from shared.credentials import did_key
from tests.rekeying import rekey
from tests.unit.credentials.conftest import issuer_key, signed_at  # noqa: F401 (fixtures)
from tests.unit.credentials.samples import STATUS_LIST_URL
from tests.unit.verifier.test_rekeyed_claims import (  # noqa: F401 (fixtures)
    ATTACKS,
    CASES,
    assert_refused,
    assert_refused_over_http,
    client,
    status_list,
    unsigned_badges,
)

HERE = Path(__file__).resolve().parent
_LOCAL = not os.environ.get("CI")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(_LOCAL and shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        _LOCAL and not (HERE / "node_modules").is_dir(),
        reason="tests/interop/node_modules missing: run `npm ci` there (make test does)",
    ),
]


@pytest.fixture
def now() -> datetime:
    """The service verifies as of the real clock, so the badges are dated around it."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def db_badges(issuer_key: Ed25519PrivateKey, now: datetime, tmp_path: Path) -> dict[str, dict[str, Any]]:  # noqa: F811
    seed = issuer_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    signed = {}
    for name, unsigned in unsigned_badges("did:key:placeholder", now).items():
        source, target = tmp_path / f"{name}-unsigned.json", tmp_path / f"{name}.json"
        source.write_text(json.dumps(unsigned), encoding="utf-8")
        done = subprocess.run(
            ["node", str(HERE / "dbvc.mjs"), "sign", "--seed", seed, str(source), str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        signed[name] = json.loads(target.read_text(encoding="utf-8"))
        assert signed[name]["issuer"]["id"] == did_key(issuer_key)  # the key our status list is signed with
    return signed


def test_vc_signed_badges_rekeyed_through_the_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    db_badges: dict[str, dict[str, Any]],
    status_list: dict[str, Any],  # noqa: F811
    now: datetime,
) -> None:
    files = []
    for name, badge in db_badges.items():  # as signed: sound badge verifies, the others have their defect
        files.append(tmp_path / f"as-issued-{name}.json")
        files[-1].write_text(json.dumps(badge), encoding="utf-8")
    for field, form in CASES:
        files.append(tmp_path / f"{field}-{form}.json")
        files[-1].write_text(json.dumps(rekey(db_badges[ATTACKS[field][0]], field, form)), encoding="utf-8")
    (tmp_path / "list.json").write_text(json.dumps(status_list), encoding="utf-8")
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    main(["verify", "--offline", "--now", at, "--doc", f"{STATUS_LIST_URL}={tmp_path / 'list.json'}", *map(str, files)])
    lines = {Path(line["file"]).stem: line for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines["as-issued-active"]["verified"] is True, lines["as-issued-active"]
    for name, code in ATTACKS.values():
        if code is not None:
            failed = {c["code"] for c in lines[f"as-issued-{name}"]["checks"] if c["outcome"] == "failed"}
            assert failed == {code}, (name, lines[f"as-issued-{name}"])
    for field, form in CASES:
        assert_refused(lines[f"{field}-{form}"], field, form)


async def test_vc_signed_badges_rekeyed_through_http(
    client: httpx.AsyncClient,  # noqa: F811
    db_badges: dict[str, dict[str, Any]],
) -> None:
    await assert_refused_over_http(client, db_badges)
