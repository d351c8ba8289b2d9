"""Baked badges (Open Badges 3.0 §5.3): a credential carried inside its badge image.

- PNG: an ``iTXt`` chunk with keyword ``openbadgecredential`` whose text is the credential (JSON, or a
  compact JWS for VC-JWT), uncompressed (compressed iTXt is read too).
- SVG: an ``<openbadges:credential>`` element (namespace ``https://purl.imsglobal.org/ob/v3p0``) directly in
  the root ``<svg>``, holding the JSON in CDATA or a VC-JWT in its ``verify`` attribute.

``extract_*`` return the embedded text as it was baked; ``bake_*`` put one in (replacing any earlier one).
Inputs are untrusted: chunk sizes and decompression are bounded, XML is parsed with ``defusedxml``.
"""

from __future__ import annotations

import struct
import zlib
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeElementTree

from .inflate import InflateError, inflate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"openbadgecredential"
SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_CREDENTIAL = f"{{{SVG_NAMESPACE}}}credential"
MAX_CREDENTIAL_BYTES = 4 * 1024 * 1024


class BakingError(ValueError):
    """The image is not a PNG/SVG, or carries no (or a malformed) baked credential."""


def baked_media_type(data: bytes) -> str | None:
    """``image/png`` or ``image/svg+xml`` when ``data`` looks like a badge image (by its bytes), else None."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if b"<svg" in data[:2048]:
        return "image/svg+xml"
    return None


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if not png.startswith(PNG_SIGNATURE):
        raise BakingError("not a PNG image (bad signature)")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset < len(png):
        if offset + 12 > len(png):
            raise BakingError("truncated PNG chunk")
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        end = offset + 12 + length
        if end > len(png):
            raise BakingError(f"truncated PNG chunk {kind!r}")
        data = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : end])
        if zlib.crc32(kind + data) != crc:
            raise BakingError(f"PNG chunk {kind!r} has a bad CRC")
        chunks.append((kind, data))
        offset = end
        if kind == b"IEND":
            break
    return chunks


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _itxt_text(data: bytes, max_bytes: int = MAX_CREDENTIAL_BYTES) -> tuple[bytes, str]:
    keyword, _, rest = data.partition(b"\x00")
    if len(rest) < 2:
        raise BakingError("malformed iTXt chunk")
    compressed, method, rest = rest[0], rest[1], rest[2:]
    _language, _, rest = rest.partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        if method != 0:
            raise BakingError(f"iTXt compression method {method} is not zlib")
        try:
            # Never inflate past what the caller would accept as a body (a few KB of zlib can be ~1000x).
            text = inflate(text, max_bytes)
        except InflateError as exc:
            raise BakingError(f"compressed baked credential: {exc}") from exc
    try:
        return keyword, text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BakingError("baked credential is not UTF-8 text") from exc


def extract_from_png(png: bytes, max_bytes: int = MAX_CREDENTIAL_BYTES) -> str:
    """Return the credential text baked into ``png`` (iTXt ``openbadgecredential``), at most ``max_bytes``."""
    for kind, data in _png_chunks(png):
        if kind == b"iTXt" and data.startswith(PNG_KEYWORD + b"\x00"):
            return _itxt_text(data, max_bytes)[1].strip()
    raise BakingError("the PNG carries no openbadgecredential iTXt chunk")


def bake_png(png: bytes, credential_text: str) -> bytes:
    """Return ``png`` with ``credential_text`` in an ``openbadgecredential`` iTXt chunk (before IEND)."""
    chunks = [(k, d) for k, d in _png_chunks(png) if not (k == b"iTXt" and d.startswith(PNG_KEYWORD + b"\x00"))]
    if not chunks or chunks[-1][0] != b"IEND":
        raise BakingError("PNG has no IEND chunk")
    itxt = PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + credential_text.encode("utf-8")
    body = b"".join(_png_chunk(k, d) for k, d in chunks[:-1])
    return PNG_SIGNATURE + body + _png_chunk(b"iTXt", itxt) + _png_chunk(b"IEND", b"")


def _svg_root(svg: bytes | str) -> Element:
    try:
        root = SafeElementTree.fromstring(svg, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except Exception as exc:  # defusedxml raises ParseError and its own DefusedXmlException subclasses
        raise BakingError(f"not a well-formed SVG document: {exc}") from exc
    if not root.tag.endswith("svg"):
        raise BakingError(f"root element is {root.tag!r}, not svg")
    return root


def extract_from_svg(svg: bytes | str) -> str:
    """Return the credential baked into ``svg``: the ``verify`` attribute (VC-JWT) or the element's text."""
    for element in _svg_root(svg).iter(SVG_CREDENTIAL):
        verify = element.get("verify")
        if verify:
            return verify.strip()
        text = (element.text or "").strip()
        if text:
            return text
    raise BakingError("the SVG carries no openbadges:credential element")


def bake_svg(svg: str, credential_text: str) -> str:
    """Return ``svg`` (text) with ``credential_text`` in an ``<openbadges:credential>`` CDATA block.

    Works on the text so the artwork is kept byte for byte: the namespace is declared on the root element and
    the element is inserted right after the root's start tag. JSON cannot contain ``]]>`` unescaped in a way
    that matters here, but it is split defensively.
    """
    _svg_root(svg)  # refuse what is not an SVG before editing it
    if SVG_CREDENTIAL in {e.tag for e in _svg_root(svg).iter()}:
        raise BakingError("the SVG already carries a baked credential")
    start = svg.find("<svg")
    close = svg.find(">", start)
    if start < 0 or close < 0:
        raise BakingError("no <svg> start tag")
    head = svg[:close]
    if "xmlns:openbadges" not in head:
        head += f' xmlns:openbadges="{SVG_NAMESPACE}"'
    if head.endswith("/"):
        raise BakingError("empty <svg/> element")
    cdata = credential_text.replace("]]>", "]]]]><![CDATA[>")
    element = f"\n  <openbadges:credential><![CDATA[{cdata}]]></openbadges:credential>"
    return head + ">" + element + svg[close + 1 :]
