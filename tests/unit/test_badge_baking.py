"""Baked downloads: a signed credential in the badge PNG (drawn with Pillow) and SVG, extracted and verified."""

from __future__ import annotations

import base64
import copy
import io
import json
import struct
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from services.verifier.pages.badge_image import BadgeArt, generated_png, generated_svg
from services.verifier.pages.routes import _baked_svg, _credential_text
from shared.credentials import (
    DidKeyResolver,
    did_key,
    did_key_verification_method,
    generate_key,
    sign_credential,
    verify_credential,
)
from shared.credentials.baking import SVG_NAMESPACE, bake_png, bake_svg, extract_from_png, extract_from_svg
from tests.unit.credentials.samples import fully_populated_credential

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ART = BadgeArt(key="https://uni.example/achievements/data-101", title="Data 101", issuer="Example University")


@pytest.fixture(scope="module")
def signed() -> dict[str, Any]:
    key = generate_key()
    credential = fully_populated_credential(did_key(key))
    # Text that would end a CDATA section if copied verbatim, and non-ASCII text.
    credential["credentialSubject"]["achievement"]["description"] = "Arrays like a[b[0]]> and café ✓"
    return sign_credential(credential, key, did_key_verification_method(key), datetime(2026, 1, 1, tzinfo=UTC))


def verified(credential: dict[str, Any]) -> bool:
    return verify_credential(credential, resolver=DidKeyResolver(), now=NOW).verified


def itxt_chunks(png: bytes) -> list[bytes]:
    chunks, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        if png[offset + 4 : offset + 8] == b"iTXt":
            chunks.append(png[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return chunks


def test_png_bake_extract_verify(signed: dict[str, Any]) -> None:
    baked = bake_png(generated_png(ART), _credential_text(signed))
    [chunk] = itxt_chunks(baked)
    assert chunk.startswith(b"openbadgecredential\x00\x00\x00")  # uncompressed, as the spec asks
    extracted = json.loads(extract_from_png(baked))
    assert extracted == signed
    assert verified(extracted)
    with Image.open(io.BytesIO(baked)) as image:  # still a valid picture
        image.load()
        assert image.size == (512, 512)


def test_svg_bake_extract_verify(signed: dict[str, Any]) -> None:
    baked = bake_svg(generated_svg(ART).decode(), _credential_text(signed))
    root = ElementTree.fromstring(baked)
    assert root[0].tag == f"{{{SVG_NAMESPACE}}}credential"  # first child of <svg>
    assert root.find("{http://www.w3.org/2000/svg}text") is not None  # the artwork is kept
    extracted = json.loads(extract_from_svg(baked))
    assert extracted == signed
    assert verified(extracted)


def test_issuer_svg_that_is_already_baked_gets_our_medal(signed: dict[str, Any]) -> None:
    """An achievement image may itself be a baked badge: the download then carries this credential, once."""
    other = copy.deepcopy(signed)
    already = bake_svg(generated_svg(ART).decode(), '{"id": "urn:uuid:someone-else"}')
    other["credentialSubject"]["achievement"]["image"] = {
        "id": "data:image/svg+xml;base64," + base64.b64encode(already.encode()).decode(),
        "type": "Image",
    }
    baked = _baked_svg(other)
    assert json.loads(extract_from_svg(baked)) == other
    assert baked.count(b"openbadges:credential>") == 2  # one element: its start and end tags


def test_tampered_baked_credential_does_not_verify(signed: dict[str, Any]) -> None:
    baked = bake_svg(generated_svg(ART).decode(), _credential_text(signed)).replace("Data 101", "Data 999")
    assert not verified(json.loads(extract_from_svg(baked)))
