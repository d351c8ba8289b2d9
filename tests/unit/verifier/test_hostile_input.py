"""Issue 7 §4: untrusted input gets a verdict with a code, never a 500 or a traceback.

Each case goes through ``credstream verify`` (one JSON line per file, the batch goes on) and ``POST /verify``
(4xx problem details, or a report).
"""

from __future__ import annotations

import copy
import json
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.cli import main
from services.runtime import Wiring
from services.verifier.entrypoint import build
from shared.credentials import (
    DocumentSet,
    FetchError,
    HttpDocumentFetcher,
    StaticFetcher,
    did_key_verification_method,
    sign_credential,
    verify_credential,
)
from shared.credentials.baking import PNG_KEYWORD
from shared.credentials.untrusted_json import MAX_NESTING_DEPTH
from shared.db.engine import create_engine, session_factory
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings
from tests.unit.credentials.samples import STATUS_LIST_URL, with_status
from tests.unit.credentials.test_credentials_baking import tiny_png

BODY_LIMIT = 50_000
PROBLEM = "application/problem+json"


def nested(depth: int) -> Any:
    """``depth`` levels of arrays, built without recursion."""
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def deep_json_text(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def png_with_itxt(payload: bytes, compressed: bool) -> bytes:
    """A PNG whose openbadgecredential iTXt chunk carries ``payload`` (zlib flag set when ``compressed``)."""
    data = PNG_KEYWORD + b"\x00" + (b"\x01\x00" if compressed else b"\x00\x00") + b"\x00\x00" + payload
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    png = tiny_png()
    return png[:-12] + chunk + png[-12:]  # before IEND


def hostile_bodies(credential: dict[str, Any]) -> dict[str, tuple[bytes, str, str]]:
    """name -> (body, media type, the code it must get)."""
    text = json.dumps(credential)
    deep_subject = copy.deepcopy(credential)
    deep_subject["credentialSubject"]["x"] = nested(600)  # expansion recursed to death from ~490 levels
    surrogate = text.replace('"Teamwork badge"', '"Team\\ud800work"')
    assert surrogate != text
    bomb = zlib.compress(text.encode() + b" " * (BODY_LIMIT * 20), 9)
    assert len(bomb) < BODY_LIMIT // 10
    return {
        "deep-expansion": (json.dumps(deep_subject).encode(), "application/json", "data.too_deep"),
        "deep-json": (deep_json_text(5000).encode(), "application/json", "data.too_deep"),
        "lone-surrogate": (surrogate.encode(), "application/json", "data.invalid_text"),
        "nan": (text.replace('"Teamwork badge"', "NaN").encode(), "application/json", "request.not_json"),
        "huge-number": (text.replace('"Teamwork badge"', "9" * 5000).encode(), "application/json", "request.not_json"),
        "png-bad-zlib": (png_with_itxt(b"not zlib at all", True), "image/png", "request.not_baked"),
        "png-bomb": (png_with_itxt(bomb, True), "image/png", "request.not_baked"),
    }


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine("sqlite+aiosqlite://")
    wiring = Wiring(
        settings.model_copy(update={"max_body_bytes": BODY_LIMIT}),
        session_factory(engine),
        InMemoryBus(),
        document_fetcher=StaticFetcher({}),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build(wiring).http), base_url="http://v") as http:
        yield http
    await engine.dispose()


async def test_hostile_bodies_get_problem_details(client: httpx.AsyncClient, signed_credential: dict[str, Any]) -> None:
    for name, (body, media_type, code) in hostile_bodies(signed_credential).items():
        response = await client.post("/verify", content=body, headers={"content-type": media_type})
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        assert response.headers["content-type"].startswith(PROBLEM), name
        assert response.json()["code"] == code, (name, response.json())


def test_hostile_files_get_one_line_each_and_the_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], signed_credential: dict[str, Any]
) -> None:
    files, codes = [], []
    for name, (body, media_type, code) in hostile_bodies(signed_credential).items():
        if name == "png-bomb":
            continue  # files are not bounded by a request body limit (4 MB cap, tested in test_badge_baking)
        path = tmp_path / (name + (".png" if media_type == "image/png" else ".json"))
        path.write_bytes(body)
        files.append(str(path))
        codes.append(code)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(signed_credential), encoding="utf-8")
    assert main(["verify", "--offline", "--now", "2026-06-01T00:00:00Z", *files, str(good)]) == 1
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert err == ""
    assert [line["file"] for line in lines] == [*files, str(good)]
    for line, code in zip(lines, codes, strict=False):
        assert line["verified"] is False and line["code"] == code, line
    assert lines[-1]["verified"] is True, lines[-1]


async def test_inline_context_object_before_the_ob_context(
    client: httpx.AsyncClient, signed_credential: dict[str, Any], now: datetime
) -> None:
    """Was a TypeError in the structure check. An empty inline context changes no triple: vc accepts it, so do we."""
    credential = copy.deepcopy(signed_credential)
    credential["@context"] = [credential["@context"][0], {}, *credential["@context"][1:]]
    assert verify_credential(credential, now=now).verified
    response = await client.post("/verify", json=credential)
    assert response.status_code == 200 and response.json()["verified"] is True, response.text
    credential["@context"][1] = {"nick": "https://schema.org/name"}
    assert verify_credential(credential, now=now).verified


def test_deep_credentials_get_a_report(signed_credential: dict[str, Any], now: datetime) -> None:
    for depth in (MAX_NESTING_DEPTH, 600, 5000):
        credential = copy.deepcopy(signed_credential)
        credential["credentialSubject"]["x"] = nested(depth)
        report = verify_credential(credential, now=now)
        assert not report.verified and report.codes() == {"data.too_deep"}


def test_deeply_nested_status_list_makes_the_status_undetermined(
    issuer_key: Ed25519PrivateKey, unsigned_credential: dict[str, Any], signed_at: datetime, now: datetime
) -> None:
    badge = sign_credential(
        with_status(unsigned_credential, 5), issuer_key, did_key_verification_method(issuer_key), signed_at
    )
    for hostile_list in (nested(5000), {"@context": nested(700), "type": "BitstringStatusListCredential"}):
        report = verify_credential(badge, now=now, documents=DocumentSet.of({STATUS_LIST_URL: hostile_list}))
        assert report.status == "undetermined"
        [status] = [c for c in report.checks if c.check == "status"]
        assert status.outcome == "undetermined", status


async def test_fetcher_refuses_deeply_nested_documents() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=deep_json_text(5000), headers={"content-type": "application/json"})

    fetcher = HttpDocumentFetcher(
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)), check_addresses=False
    )
    with pytest.raises(FetchError) as info:
        await fetcher.fetch("https://issuer.example/status/1")
    assert info.value.kind == "invalid" and "nested deeper" in str(info.value)
