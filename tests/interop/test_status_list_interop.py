"""Our did:web identity and status lists, read by Digital Bazaar's libraries (vc + vc-bitstring-status-list), offline.

The DID document and the status list credential are fetched from the issuer's own HTTP app and handed to the
JavaScript side through a docs.json index (URL or DID -> file), as a wallet would fetch them over HTTPS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.embedded import EmbeddedStack
from shared.settings import Settings
from tests.issuer_support import ADMIN, ISSUER_URL, earn, fetch_json, start_stack, web_settings

HERE = Path(__file__).resolve().parent
_LOCAL = not os.environ.get("CI")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(_LOCAL and shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        _LOCAL and not (HERE / "node_modules" / "@digitalbazaar" / "vc-bitstring-status-list").is_dir(),
        reason="tests/interop/node_modules missing: run `npm ci` there (make test does)",
    ),
]


def _node(script: str, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run(["node", str(HERE / script), *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


async def _offline_docs(stack: EmbeddedStack, folder: Path, credentials: list[dict[str, Any]]) -> Path:
    """Write each credential plus the documents a verifier would fetch for it; return the docs.json index."""
    documents: dict[str, dict[str, Any]] = {}
    for credential in credentials:
        issuer = credential["issuer"]["id"]
        if issuer.startswith("did:web:") and issuer not in documents:
            path = issuer.removeprefix("did:web:issuer.example.org").replace(":", "/")
            documents[issuer] = await fetch_json(stack, f"{ISSUER_URL}{path}/did.json")
        list_url = credential["credentialStatus"]["statusListCredential"]
        if list_url not in documents:
            documents[list_url] = await fetch_json(stack, list_url)
    return _write(folder, credentials, documents)


def _write(folder: Path, credentials: list[dict[str, Any]], documents: dict[str, dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, credential in enumerate(credentials):
        (folder / f"credential-{n}.json").write_text(json.dumps(credential), encoding="utf-8")
    index = {url: f"doc-{n}.json" for n, url in enumerate(documents)}
    for url, name in index.items():
        (folder / name).write_text(json.dumps(documents[url]), encoding="utf-8")
    (folder / "docs.json").write_text(json.dumps(index), encoding="utf-8")
    return folder / "docs.json"


def _files(folder: Path, count: int) -> list[str]:
    return [str(folder / f"credential-{n}.json") for n in range(count)]


async def test_digital_bazaar_verifies_did_web_badges_and_reads_their_revocation_bit(
    settings: Settings, tmp_path: Path
) -> None:
    stack = await start_stack(web_settings(settings), tmp_path / "data")
    try:
        badge = await earn(stack, "ada")
        other = await earn(stack, "bo")
        credentials = [badge.credential, other.credential]
        docs = await _offline_docs(stack, tmp_path / "before", credentials)
        verified = _node("dbvc.mjs", "verify", "--docs", str(docs), *_files(docs.parent, 2))
        assert all(line["verified"] for line in verified), verified
        status = _node("dbstatus.mjs", "--docs", str(docs), *_files(docs.parent, 2))
        # verified = the status list's own proof checked out and its issuer is the badge's issuer.
        assert [(line["verified"], line["status"]) for line in status] == [(True, [False]), (True, [False])], status

        response = await stack.http("issuer").post(
            f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Issued in error"}, headers=ADMIN
        )
        assert response.status_code == 200
        docs = await _offline_docs(stack, tmp_path / "after", credentials)
        status = _node("dbstatus.mjs", "--docs", str(docs), *_files(docs.parent, 2))
        assert [(line["verified"], line["status"]) for line in status] == [(True, [True]), (True, [False])], status
    finally:
        await stack.stop()


async def test_after_a_rotation_digital_bazaar_verifies_old_and_new_badges(settings: Settings, tmp_path: Path) -> None:
    stack = await start_stack(web_settings(settings), tmp_path / "data")
    try:
        first = await earn(stack, "ada")
        response = await stack.http("issuer").post("/v1/tenants/acme/keys/rotate", headers=ADMIN)
        assert response.status_code == 201
        second = await earn(stack, "bo")
        credentials = [first.credential, second.credential]
        docs = await _offline_docs(stack, tmp_path / "rotated", credentials)
        verified = _node("dbvc.mjs", "verify", "--docs", str(docs), *_files(docs.parent, 2))
        assert all(line["verified"] for line in verified), verified
        status = _node("dbstatus.mjs", "--docs", str(docs), *_files(docs.parent, 2))
        assert all(line["verified"] and line["status"] == [False] for line in status), status

        old_key = first.credential["proof"]["verificationMethod"].split("#")[1]
        response = await stack.http("issuer").post(f"/v1/tenants/acme/keys/{old_key}/revoke", headers=ADMIN)
        assert response.status_code == 200
        docs = await _offline_docs(stack, tmp_path / "key-revoked", credentials)
        verified = _node("dbvc.mjs", "verify", "--docs", str(docs), *_files(docs.parent, 2))
        assert [line["verified"] for line in verified] == [False, True], verified
        # The re-signed list still verifies, so the second badge's status stays checkable.
        status = _node("dbstatus.mjs", "--docs", str(docs), str(docs.parent / "credential-1.json"))
        assert status[0]["verified"] and status[0]["status"] == [False], status
    finally:
        await stack.stop()


async def test_digital_bazaar_reads_did_key_status_lists(settings: Settings, tmp_path: Path) -> None:
    stack = await start_stack(settings, tmp_path / "data")
    try:
        badge = await earn(stack, "ada")
        await stack.http("issuer").post(
            f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Issued in error"}, headers=ADMIN
        )
        docs = await _offline_docs(stack, tmp_path / "did-key", [badge.credential])
        [status] = _node("dbstatus.mjs", "--docs", str(docs), *_files(docs.parent, 1))
        assert status["verified"] and status["status"] == [True], status
    finally:
        await stack.stop()
