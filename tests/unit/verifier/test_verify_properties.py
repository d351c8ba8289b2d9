"""Property tests (issue 7 §4): whatever a stranger sends, ``POST /verify`` answers below 500 and
``credstream verify`` prints one JSON line per file and no traceback.

Inputs: arbitrary JSON, arbitrary bytes, real credentials mutated (members replaced, deleted, re-keyed to
their full IRI, wrapped in arrays), and baked PNG/SVG badges mutated (payload and container).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import struct
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cli import main
from services.runtime import Wiring
from services.verifier.entrypoint import build
from shared.credentials import StaticFetcher, did_key, did_key_verification_method, key_from_seed, sign_credential
from shared.credentials.baking import PNG_KEYWORD, bake_png, bake_svg
from shared.db.engine import create_engine, session_factory
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings
from tests.unit.credentials.samples import minimal_credential, with_status
from tests.unit.credentials.test_credentials_baking import SVG, tiny_png

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["did:key:z6Mk", "https://x.example/#k", "urn:uuid:1", "@id", "@context", "2026-01-01T00:00:00Z"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)


@functools.cache
def real_credential() -> dict[str, Any]:
    key = key_from_seed(bytes(range(32)))
    unsigned = with_status(minimal_credential(did_key(key), "urn:uuid:0b5a4e1e-0d44-4a3c-9c1c-2a6f0e3d9b11"), 5)
    return sign_credential(unsigned, key, did_key_verification_method(key), datetime(2026, 1, 1, tzinfo=UTC))


def _members(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            _members(value, found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.append((node, i))
            _members(value, found)
    return found


@st.composite
def mutated_credentials(draw: st.DrawFn) -> dict[str, Any]:
    credential = copy.deepcopy(real_credential())
    for _ in range(draw(st.integers(1, 3))):
        members = _members(credential, [])
        parent, key = draw(st.sampled_from(members))
        operation = draw(st.sampled_from(["replace", "delete", "rename", "wrap", "insert"]))
        if operation == "replace":
            parent[key] = draw(json_values)
        elif operation == "delete":
            del parent[key]
        elif operation == "wrap":
            parent[key] = [parent[key]]
        elif operation == "rename" and isinstance(parent, dict):
            iri = draw(st.sampled_from(["https://www.w3.org/2018/credentials#", "https://w3id.org/security#", "@"]))
            parent[iri + str(key)] = parent.pop(key)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(json_values)
    return credential


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        operation = draw(st.sampled_from(["flip", "cut", "insert"]))
        if operation == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif operation == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.binary(max_size=16))
    return bytes(data)


def _png_with_payload(payload: bytes, compressed: bool) -> bytes:
    text = zlib.compress(payload) if compressed else payload
    data = PNG_KEYWORD + b"\x00" + (b"\x01\x00" if compressed else b"\x00\x00") + b"\x00\x00" + text
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    png = tiny_png()
    return png[:-12] + chunk + png[-12:]


@st.composite
def baked_badges(draw: st.DrawFn) -> tuple[bytes, str]:
    text = json.dumps(draw(mutated_credentials()) if draw(st.booleans()) else real_credential())
    kind = draw(st.sampled_from(["png", "png-payload", "svg"]))
    if kind == "png":
        return draw(mutated_bytes(bake_png(tiny_png(), text))), "image/png"
    if kind == "png-payload":  # well-formed PNG, hostile credential text (valid CRC)
        payload = draw(mutated_bytes(text.encode()))
        return _png_with_payload(payload, draw(st.booleans())), "image/png"
    return draw(mutated_bytes(bake_svg(SVG, text).encode())), "image/svg+xml"


bodies = st.one_of(
    json_values.map(lambda v: (json.dumps(v).encode(), "application/json")),
    st.binary(max_size=200).map(lambda b: (b, "application/json")),
    mutated_credentials().map(lambda c: (json.dumps(c).encode(), "application/json")),
    baked_badges(),
)


@functools.cache
def verifier_app() -> Any:
    settings_ = Settings(_env_file=None, DATABASE_URL="sqlite+aiosqlite://")
    wiring = Wiring(
        settings_.model_copy(update={"max_body_bytes": 50_000}),
        session_factory(create_engine("sqlite+aiosqlite://")),
        InMemoryBus(),
        document_fetcher=StaticFetcher({}),
    )
    return build(wiring).http


def post_verify(content: bytes, media_type: str) -> httpx.Response:
    async def post() -> httpx.Response:
        # ASGITransport re-raises any exception the app lets escape: a crash fails the test.
        transport = httpx.ASGITransport(app=verifier_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://verifier") as client:
            return await client.post("/verify", content=content, headers={"content-type": media_type})

    return asyncio.run(post())


@PROPERTY_SETTINGS
@given(body=bodies)
def test_post_verify_never_answers_5xx(body: tuple[bytes, str]) -> None:
    content, media_type = body
    response = post_verify(content, media_type)
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        assert isinstance(response.json()["verified"], bool)
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"]


@PROPERTY_SETTINGS
@given(body=bodies)
def test_cli_prints_one_line_per_file_and_no_traceback(
    body: tuple[bytes, str], capsys: pytest.CaptureFixture[str]
) -> None:
    content, media_type = body
    suffix = {"image/png": ".png", "image/svg+xml": ".svg"}.get(media_type, ".json")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"credential{suffix}"
        path.write_bytes(content)
        status = main(["verify", "--offline", "--now", "2026-06-01T00:00:00Z", str(path), str(path)])
    out, err = capsys.readouterr()
    assert status in (0, 1) and err == ""
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 2 and all(isinstance(line["verified"], bool) for line in lines)
    assert all(line.get("code") != "verifier.internal_error" for line in lines), lines


URLENCODED = "application/x-www-form-urlencoded"
form_bodies = st.one_of(
    st.binary(max_size=300).map(lambda b: (b, "application/x-www-form-urlencoded")),
    st.text(max_size=300).map(lambda t: (urlencode({"credential": t}).encode(), "application/x-www-form-urlencoded")),
    bodies.map(lambda b: (urlencode({"credential": b[0].decode("utf-8", "replace")}).encode(), URLENCODED)),
    st.binary(max_size=300).map(lambda b: (b, "multipart/form-data; boundary=x")),
    bodies.map(lambda b: (_multipart(b[0]), "multipart/form-data; boundary=x")),
)


def _multipart(upload: bytes) -> bytes:
    head = b'--x\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
    return head + upload + b"\r\n--x--\r\n"


@PROPERTY_SETTINGS
@given(body=form_bodies)
def test_the_verify_form_always_answers_a_page(body: tuple[bytes, str]) -> None:
    """Whatever the verify page's form carries (pasted text, an uploaded file, malformed form bodies), the answer
    is an HTML page (the badge page or the form saying why), never a crash."""
    content, media_type = body
    response = post_verify(content, media_type)
    assert response.status_code in (200, 400, 413, 422, 503), response.text
    if response.status_code != 413:
        assert response.headers["content-type"].startswith("text/html")
        assert ('data-testid="verdict"' in response.text) != ('data-testid="form-error"' in response.text)
