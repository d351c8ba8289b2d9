"""Baked badges: extract from (and bake into) PNG iTXt and SVG, including the 1EdTech fixtures."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from shared.credentials.baking import BakingError, bake_png, bake_svg, extract_from_png, extract_from_svg

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tiny_png() -> bytes:
    """A valid 1x1 grey PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + _chunk(b"IEND", b"")
    )


SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle r="4"/></svg>'


def test_the_1edtech_fixtures_extract() -> None:
    assert json.loads(extract_from_png((CASES / "simple-json.png").read_bytes()))["type"][1] == "OpenBadgeCredential"
    assert json.loads(extract_from_svg((CASES / "simple-json.svg").read_bytes()))["name"]
    assert extract_from_svg((CASES / "simple-jwt.svg").read_bytes()).count(".") == 2


def test_png_round_trip_replaces_an_earlier_credential() -> None:
    baked = bake_png(bake_png(tiny_png(), '{"old": 1}'), '{"id": "urn:uuid:1"}')
    assert extract_from_png(baked) == '{"id": "urn:uuid:1"}'
    assert baked.count(b"openbadgecredential") == 1
    assert baked.endswith(_chunk(b"IEND", b""))


def test_compressed_itxt_is_read() -> None:
    text = zlib.compress(b'{"a": 1}')
    itxt = b"openbadgecredential\x00\x01\x00\x00\x00" + text
    png = tiny_png()
    png = png[: -len(_chunk(b"IEND", b""))] + _chunk(b"iTXt", itxt) + _chunk(b"IEND", b"")
    assert extract_from_png(png) == '{"a": 1}'


def test_svg_round_trip_keeps_the_artwork() -> None:
    baked = bake_svg(SVG, '{"id": "urn:uuid:1", "x": "]]>"}')
    assert json.loads(extract_from_svg(baked)) == {"id": "urn:uuid:1", "x": "]]>"}
    assert '<circle r="4"/>' in baked
    with pytest.raises(BakingError):
        bake_svg(baked, "{}")


@pytest.mark.parametrize(
    "bad",
    [b"GIF89a", tiny_png()[:-3], tiny_png().replace(b"IEND\xaeB`\x82", b"IEND\x00\x00\x00\x00"), tiny_png()],
    ids=["not-png", "truncated", "bad-crc", "not-baked"],
)
def test_bad_pngs(bad: bytes) -> None:
    with pytest.raises(BakingError):
        extract_from_png(bad)


def test_hostile_svgs() -> None:
    entity = '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "boom">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>'
    for bad in ("<svg", entity, "<html/>", SVG):
        with pytest.raises(BakingError):
            extract_from_svg(bad)
