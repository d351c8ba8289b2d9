"""Open Badges 3.0 baking: a signed credential carried inside the badge image itself.

PNG: one ``iTXt`` chunk with keyword ``openbadgecredential``, uncompressed, whose text is the credential (JSON
with an embedded proof, or a compact JWS). SVG: one ``<openbadges:credential>`` element (namespace
``https://purl.imsglobal.org/ob/v3p0``) as the first child of the root ``<svg>``, holding the JSON in CDATA or
a JWS in its ``verify`` attribute. Baking replaces an earlier credential (the spec allows one per image).

Extraction returns the credential as a dict when the carrier holds JSON, or the compact JWS string when it
holds a JWT; verifying it is the caller's job (the bytes are untrusted input).
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from lxml import etree
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from .errors import CredentialError

PNG_KEYWORD = "openbadgecredential"
OB_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
SVG_NAMESPACE = "http://www.w3.org/2000/svg"
_CREDENTIAL_TAG = f"{{{OB_NAMESPACE}}}credential"
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$")
# A credential is a few kilobytes; images larger than this are not badges (and not worth decoding).
MAX_IMAGE_BYTES = 8 * 1024 * 1024

BakedCredential = dict[str, Any] | str


class BakingError(CredentialError):
    """An image could not be baked, or holds no readable credential."""

    code = "baking.invalid_image"


def _credential_text(credential: BakedCredential) -> str:
    if isinstance(credential, str):
        if not _COMPACT_JWS.match(credential):
            raise BakingError("a string credential must be a compact JWS", code="baking.invalid_credential")
        return credential
    # Compact and UTF-8: the text is the credential; its proof covers the data, not the whitespace.
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":"))


def _parse_payload(text: str, carrier: str) -> BakedCredential:
    text = text.strip()
    if _COMPACT_JWS.match(text):
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise BakingError(f"the {carrier} credential is neither JSON nor a compact JWS: {error}") from error
    if not isinstance(value, dict):
        raise BakingError(f"the {carrier} credential is not a JSON object")
    return value


def _open_png(data: bytes) -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise BakingError(f"image is larger than {MAX_IMAGE_BYTES} bytes", code="baking.too_large")
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG"])
        image.load()  # text chunks after the image data are only read with the pixels
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise BakingError(f"not a readable PNG image: {error}") from error
    return image


def bake_png(image: bytes, credential: BakedCredential) -> bytes:
    """Return ``image`` (PNG bytes) with ``credential`` in an ``openbadgecredential`` iTXt chunk.

    Other text chunks (including an earlier credential) are dropped; the pixels and ICC profile are kept.
    """
    source = _open_png(image)
    info = PngInfo()
    info.add_itxt(PNG_KEYWORD, _credential_text(credential), zip=False)
    out = io.BytesIO()
    options: dict[str, Any] = {"pnginfo": info}
    if "icc_profile" in source.info:
        options["icc_profile"] = source.info["icc_profile"]
    source.save(out, format="PNG", **options)
    return out.getvalue()


def extract_from_png(image: bytes) -> BakedCredential:
    """Return the credential baked into a PNG (dict for JSON, str for a compact JWS)."""
    source = _open_png(image)
    text = getattr(source, "text", {}).get(PNG_KEYWORD)
    if text is None:
        raise BakingError(f"the PNG has no {PNG_KEYWORD!r} iTXt chunk", code="baking.no_credential")
    return _parse_payload(str(text), "PNG")


def _svg_parser() -> etree.XMLParser:
    # Untrusted XML: no entity expansion, no DTD or network access, no gigantic trees.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse_svg(image: bytes | str) -> etree._ElementTree:
    data = image.encode("utf-8") if isinstance(image, str) else image
    if len(data) > MAX_IMAGE_BYTES:
        raise BakingError(f"image is larger than {MAX_IMAGE_BYTES} bytes", code="baking.too_large")
    try:
        tree = etree.parse(io.BytesIO(data), _svg_parser())
    except etree.XMLSyntaxError as error:
        raise BakingError(f"not a well-formed SVG document: {error}") from error
    if tree.getroot().tag != f"{{{SVG_NAMESPACE}}}svg":
        raise BakingError("the document's root element is not an SVG <svg> element")
    return tree


def bake_svg(image: bytes | str, credential: BakedCredential) -> bytes:
    """Return ``image`` (SVG) with ``credential`` in an ``<openbadges:credential>`` element (UTF-8 bytes)."""
    tree = _parse_svg(image)
    old_root = tree.getroot()
    # Declare the prefix on the root element, as the spec's examples do (lxml cannot add nsmap in place).
    nsmap = {k: v for k, v in old_root.nsmap.items() if v != OB_NAMESPACE}
    nsmap["openbadges"] = OB_NAMESPACE
    root = etree.Element(old_root.tag, attrib=dict(old_root.attrib), nsmap=nsmap)
    root.text = old_root.text
    for child in old_root:
        if child.tag != _CREDENTIAL_TAG:
            root.append(child)
    element = etree.Element(_CREDENTIAL_TAG)
    text = _credential_text(credential)
    if isinstance(credential, str):
        element.set("verify", text)
    else:
        # "]]>" can only occur inside a JSON string, where "\u003e" is the same character.
        element.text = etree.CDATA(text.replace("]]>", "]]\\u003e"))
    element.tail = "\n"
    root.insert(0, element)
    new_tree = etree.ElementTree(root)
    return etree.tostring(new_tree, xml_declaration=True, encoding="UTF-8")


def extract_from_svg(image: bytes | str) -> BakedCredential:
    """Return the credential baked into an SVG (dict for JSON, str for a JWS in the ``verify`` attribute)."""
    found = _parse_svg(image).getroot().findall(f".//{_CREDENTIAL_TAG}")
    if not found:
        raise BakingError("the SVG has no <openbadges:credential> element", code="baking.no_credential")
    if len(found) > 1:
        raise BakingError("the SVG has more than one <openbadges:credential> element", code="baking.ambiguous")
    element = found[0]
    jws = element.get("verify")
    if jws:
        return _parse_payload(jws, "SVG")
    return _parse_payload(element.text or "", "SVG")
