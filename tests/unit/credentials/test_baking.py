"""Baking: a signed credential inside a PNG (iTXt) or SVG (<openbadges:credential>), extracted and verified."""

from __future__ import annotations

import copy
import io
import json
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from PIL import Image

from services.verifier.pages.badge_image import BadgeArt, generated_png, generated_svg
from shared.credentials import (
    DidKeyResolver,
    did_key,
    did_key_verification_method,
    generate_key,
    sign_credential,
    verify_credential,
)
from shared.credentials.baking import (
    OB_NAMESPACE,
    PNG_KEYWORD,
    BakingError,
    bake_png,
    bake_svg,
    extract_from_png,
    extract_from_svg,
)
from tests.unit.credentials.samples import fully_populated_credential, minimal_credential

NOW = datetime(2026, 6, 1, tzinfo=UTC)
VALIDATOR_CASES = Path(__file__).resolve().parents[4] / "shared" / "standards" / "ob30-validator-cases"
JWS = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
ART = BadgeArt(key="https://uni.example/achievements/teamwork", title="Teamwork", issuer="Example University")


@pytest.fixture(scope="module")
def signed() -> dict[str, Any]:
    key = generate_key()
    credential = fully_populated_credential(did_key(key))
    # A string that would end a CDATA section if copied verbatim, and non-ASCII text.
    credential["credentialSubject"]["achievement"]["description"] = "Arrays like a[b[0]]> and café ✓"
    return sign_credential(credential, key, did_key_verification_method(key), datetime(2026, 1, 1, tzinfo=UTC))


def verified(credential: dict[str, Any]) -> bool:
    return verify_credential(credential, resolver=DidKeyResolver(), now=NOW).verified


def png_text_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind in (b"iTXt", b"tEXt", b"zTXt"):
            chunks.append((kind, data[offset + 8 : offset + 8 + length]))
        offset += 12 + length
    return chunks


def test_png_bake_extract_verify(signed: dict[str, Any]) -> None:
    baked = bake_png(generated_png(ART), signed)
    [(kind, body)] = png_text_chunks(baked)
    keyword, _, rest = body.partition(b"\0")
    assert (kind, keyword) == (b"iTXt", PNG_KEYWORD.encode())
    assert rest[:2] == b"\0\0"  # uncompressed, as the OB 3.0 baking spec requires
    extracted = extract_from_png(baked)
    assert extracted == signed
    assert verified(extracted)
    with Image.open(io.BytesIO(baked)) as image:
        assert image.size == (512, 512)


def test_png_rebake_replaces_the_credential(signed: dict[str, Any]) -> None:
    other = copy.deepcopy(signed)
    other["name"] = "Another badge"
    twice = bake_png(bake_png(generated_png(ART), signed), other)
    assert len(png_text_chunks(twice)) == 1
    assert extract_from_png(twice)["name"] == "Another badge"


def test_png_carries_a_jws() -> None:
    assert extract_from_png(bake_png(generated_png(ART), JWS)) == JWS


def test_svg_bake_extract_verify(signed: dict[str, Any]) -> None:
    baked = bake_svg(generated_svg(ART), signed)
    root = etree.fromstring(baked)
    assert root.nsmap["openbadges"] == OB_NAMESPACE
    assert root[0].tag == f"{{{OB_NAMESPACE}}}credential"  # first child of <svg>
    assert b"<![CDATA[" in baked and b"]]>" not in baked.split(b"<![CDATA[")[1].split(b"]]></")[0]
    extracted = extract_from_svg(baked)
    assert extracted == signed
    assert verified(extracted)
    assert root.find("{http://www.w3.org/2000/svg}text") is not None  # the picture is still there


def test_svg_rebake_and_jws(signed: dict[str, Any]) -> None:
    once = bake_svg(generated_svg(ART), signed)
    twice = bake_svg(once, JWS)
    root = etree.fromstring(twice)
    assert len(root.findall(f"{{{OB_NAMESPACE}}}credential")) == 1
    assert root[0].get("verify") == JWS
    assert extract_from_svg(twice) == JWS


def test_tampered_baked_credential_does_not_verify(signed: dict[str, Any]) -> None:
    baked = bake_svg(generated_svg(ART), signed).replace(b"Data 101", b"Data 999")
    assert not verified(extract_from_svg(baked))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not an image", "baking.invalid_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "baking.no_credential"),
        (b"<html/>", "baking.invalid_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><unclosed></svg>", "baking.invalid_image"),
    ],
)
def test_svg_errors(data: bytes, code: str) -> None:
    with pytest.raises(BakingError) as raised:
        extract_from_svg(data)
    assert raised.value.code == code


def test_svg_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text('{"stolen": true}', encoding="utf-8")
    hostile = (
        f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file://{secret}">]>'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{OB_NAMESPACE}">'
        "<openbadges:credential>&x;</openbadges:credential></svg>"
    ).encode()
    with pytest.raises(BakingError):
        extract_from_svg(hostile)


def test_png_errors() -> None:
    with pytest.raises(BakingError) as raised:
        extract_from_png(b"\x89PNG\r\n\x1a\n garbage")
    assert raised.value.code == "baking.invalid_image"
    with pytest.raises(BakingError) as raised:
        extract_from_png(generated_png(ART))
    assert raised.value.code == "baking.no_credential"
    with pytest.raises(BakingError):
        bake_png(b"GIF89a", {"a": 1})
    with pytest.raises(BakingError):
        bake_png(generated_png(ART), "not a jws")


def test_png_with_non_json_text_is_refused() -> None:
    image = Image.open(io.BytesIO(generated_png(ART)))
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt(PNG_KEYWORD, "[1, 2]")
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    with pytest.raises(BakingError, match="not a JSON object"):
        extract_from_png(out.getvalue())


def test_compressed_itxt_is_read() -> None:
    """A baker that compressed the chunk (the spec says not to) is still readable."""
    text = json.dumps(minimal_credential("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"))
    body = PNG_KEYWORD.encode() + b"\0\1\0\0\0" + zlib.compress(text.encode())
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    png = generated_png(ART)
    end = png.rindex(b"IEND") - 4
    assert extract_from_png(png[:end] + chunk + png[end:])["name"] == "Teamwork badge"


@pytest.mark.skipif(not VALIDATOR_CASES.is_dir(), reason="../shared/standards/ob30-validator-cases not present")
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("simple-json.png", dict),
        ("simple-json.svg", dict),
        ("simple-jwt.png", str),
        ("simple-jwt.svg", str),
        ("simple-jwt_v1.png", str),
        ("simple-jwt_v1.svg", str),
    ],
)
def test_extracts_the_1edtech_validator_baked_cases(name: str, kind: type) -> None:
    data = (VALIDATOR_CASES / name).read_bytes()
    extract = extract_from_png if name.endswith(".png") else extract_from_svg
    credential = extract(data)
    assert isinstance(credential, kind)
    if isinstance(credential, dict):
        assert "OpenBadgeCredential" in credential["type"]
        # And ours re-bakes theirs losslessly.
        rebake = bake_png if name.endswith(".png") else bake_svg
        assert extract(rebake(data, credential)) == credential
    else:
        assert credential.count(".") == 2
