"""The badge's picture: the issuer's own image when the credential carries one inline, else a generated medal.

Only ``data:`` URIs are used as they are: the verifier never fetches an issuer's image from the network (no
outbound requests from a public page, nothing a remote host can make slow or track). Everything else gets a
generated badge whose colours come from the achievement id, so one achievement always looks the same.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from defusedxml import ElementTree as SafeElementTree
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

SIZE = 512
# (deep, bright) pairs; white text on "deep" has a contrast ratio above 7:1.
PALETTES = (
    ("#1e3a8a", "#3b82f6"),  # blue
    ("#134e4a", "#14b8a6"),  # teal
    ("#4c1d95", "#8b5cf6"),  # violet
    ("#7c2d12", "#f97316"),  # orange
    ("#14532d", "#22c55e"),  # green
    ("#831843", "#ec4899"),  # pink
)
_MAX_DATA_URI_BYTES = 2 * 1024 * 1024
_RASTER_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_FONT_FILES = ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf")
_TEXT_WIDTH = 272  # px inside the medal's face (radius 172) at the title's height


@dataclass(frozen=True)
class BadgeArt:
    """What is drawn on a generated badge."""

    key: str  # picks the palette (the achievement id)
    title: str
    issuer: str


@dataclass(frozen=True)
class BadgeImages:
    """The same badge as SVG (for pages and baked SVG) and as PNG (for og:image and baked PNG)."""

    svg: bytes
    png: bytes
    generated: bool


def _palette(key: str) -> tuple[str, str]:
    return PALETTES[hashlib.sha256(key.encode("utf-8")).digest()[0] % len(PALETTES)]


def _wrap(words: list[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> list[str]:
    lines: list[str] = []
    for word in words:
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


@lru_cache(maxsize=512)
def _title_layout(title: str) -> tuple[tuple[str, ...], int]:
    """Lines and font size (px) so the title fits inside the medal's face, measured with the PNG's font."""
    words = title.split() or [""]
    for size in (44, 40, 36, 32, 28, 25, 22):
        font = _font(size)
        lines = _wrap(words, font, _TEXT_WIDTH)
        if len(lines) <= 3 and all(font.getlength(line) <= _TEXT_WIDTH for line in lines):
            return tuple(lines), size
    size = 22
    per_line = max(8, int(_TEXT_WIDTH / (_font(size).getlength("n") or 12)))
    lines = textwrap.wrap(title, width=per_line) or [""]
    if len(lines) > 3:
        lines = [*lines[:2], textwrap.shorten(" ".join(lines[2:]), width=per_line, placeholder="…")]
    return tuple(lines), size


def _short(text: str, width: int) -> str:
    return textwrap.shorten(text, width=width, placeholder="…") or text[:width]


def generated_svg(art: BadgeArt) -> bytes:
    """A medal: gradient ring, star, the achievement name, the issuer, a ribbon. Self-contained SVG."""
    deep, bright = _palette(art.key)
    lines, size = _title_layout(art.title)
    line_height = round(size * 1.18)
    first_y = 256 - (len(lines) - 1) * line_height / 2 + size * 0.35
    title = "".join(
        f'<tspan x="256" y="{first_y + i * line_height:.0f}">{escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    issuer = escape(_short(art.issuer, 30))
    label = escape(f"{art.title} — badge issued by {art.issuer}")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 512 512"
 role="img" aria-label="{label}">
<title>{label}</title>
<defs>
<linearGradient id="ring" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="{bright}"/><stop offset="1" stop-color="{deep}"/>
</linearGradient>
<linearGradient id="face" x1="0" y1="0" x2="0" y2="1">
<stop offset="0" stop-color="#ffffff"/><stop offset="1" stop-color="#eef2f7"/>
</linearGradient>
</defs>
<path d="M150 400 L112 500 L162 478 L190 522 L222 420 Z" fill="{deep}" opacity="0.9"/>
<path d="M362 400 L400 500 L350 478 L322 522 L290 420 Z" fill="{deep}" opacity="0.9"/>
<circle cx="256" cy="236" r="214" fill="url(#ring)"/>
<circle cx="256" cy="236" r="188" fill="none" stroke="#ffffff" stroke-opacity="0.55" stroke-width="3"
 stroke-dasharray="2 9"/>
<circle cx="256" cy="236" r="172" fill="url(#face)"/>
<circle cx="256" cy="236" r="160" fill="none" stroke="{bright}" stroke-opacity="0.35" stroke-width="2"/>
<path d="M256 92 l11 22 24 3.5 -17.5 17 4 24 -21.5 -11.3 -21.5 11.3 4 -24 -17.5 -17 24 -3.5 z" fill="{bright}"/>
<text font-family="DejaVu Sans, Segoe UI, Helvetica, Arial, sans-serif" font-weight="700" font-size="{size}"
 fill="{deep}" text-anchor="middle">{title}</text>
<rect x="106" y="356" width="300" height="54" rx="27" fill="{deep}"/>
<text x="256" y="390" font-family="DejaVu Sans, Segoe UI, Helvetica, Arial, sans-serif" font-weight="700"
 font-size="20" fill="#ffffff" text-anchor="middle">{issuer}</text>
</svg>
""".encode()


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def generated_png(art: BadgeArt) -> bytes:
    """The same medal as :func:`generated_svg`, drawn with Pillow (at 2x, then downsampled for smooth edges)."""
    scale = 2
    deep, bright = (_hex(c) for c in _palette(art.key))
    canvas = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)

    def s(*values: float) -> list[float]:
        return [v * scale for v in values]

    def circle(r: float, **kwargs: Any) -> None:
        draw.ellipse(s(256 - r, 236 - r, 256 + r, 236 + r), **kwargs)

    for ribbon in (
        [(150, 400), (112, 500), (162, 478), (190, 522), (222, 420)],
        [(362, 400), (400, 500), (350, 478), (322, 522), (290, 420)],
    ):
        draw.polygon([(x * scale, y * scale) for x, y in ribbon], fill=deep)
    # The diagonal ring gradient: a rotated linear ramp, coloured, pasted through a disc mask.
    ramp = Image.linear_gradient("L").rotate(45, resample=Image.Resampling.BICUBIC, expand=True)
    left, top = (ramp.width - 256) // 2, (ramp.height - 256) // 2
    ramp = ramp.crop((left, top, left + 256, top + 256))
    ring = ImageOps.colorize(ramp.resize((428 * scale, 428 * scale)), bright, deep)
    mask = Image.new("L", ring.size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, ring.width - 1, ring.height - 1), fill=255)
    canvas.paste(ring, (42 * scale, 22 * scale), mask)
    for step in range(0, 360, 3):  # the dotted inner ring of the SVG
        angle = math.radians(step)
        x, y = 256 + 188 * math.cos(angle), 236 + 188 * math.sin(angle)
        draw.ellipse(s(x - 1.6, y - 1.6, x + 1.6, y + 1.6), fill=_mix(bright, (255, 255, 255), 0.55))
    circle(172, fill=(248, 250, 252))
    circle(160, outline=_mix(bright, (255, 255, 255), 0.6), width=2 * scale)
    star = [(256, 92), (267, 114), (291, 117.5), (273.5, 134.5), (277.5, 158.5), (256, 147.2), (234.5, 158.5)]
    star += [(238.5, 134.5), (221, 117.5), (245, 114)]
    draw.polygon([(x * scale, y * scale) for x, y in star], fill=bright)

    lines, size = _title_layout(art.title)
    font = _font(size * scale)
    line_height = round(size * 1.18)
    first_y = 256 - (len(lines) - 1) * line_height / 2 + size * 0.35
    for i, line in enumerate(lines):
        draw.text(s(256, first_y + i * line_height), line, font=font, fill=deep, anchor="ms")
    draw.rounded_rectangle(s(106, 356, 406, 410), radius=27 * scale, fill=deep)
    draw.text(s(256, 390), _short(art.issuer, 30), font=_font(20 * scale), fill=(255, 255, 255), anchor="ms")

    out = io.BytesIO()
    canvas.resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _decode_data_uri(uri: str) -> tuple[str, bytes] | None:
    """``data:<type>[;base64],<data>`` -> (media type, bytes); None if it is not a usable data URI."""
    if not uri.startswith("data:") or "," not in uri or len(uri) > _MAX_DATA_URI_BYTES * 4 // 3 + 256:
        return None
    header, _, payload = uri[5:].partition(",")
    parts = header.split(";")
    media_type = parts[0].strip().lower() or "text/plain"
    try:
        if "base64" in parts[1:]:
            data = base64.b64decode(payload, validate=False)
        else:
            from urllib.parse import unquote_to_bytes

            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None
    return media_type, data


def _raster_to_png(data: bytes) -> bytes | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format == "PNG":
                return data
            out = io.BytesIO()
            image.convert("RGBA").save(out, format="PNG")
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _is_svg(data: bytes) -> bool:
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except Exception:  # defusedxml raises ParseError and its own DefusedXmlException subclasses
        return False
    return root.tag == "{http://www.w3.org/2000/svg}svg"


def _svg_wrapping_png(png: bytes, label: str) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
    href = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    label = escape(label, {'"': "&quot;"})
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{label}">'
        f'<title>{label}</title><image width="{width}" height="{height}" href="{href}"/></svg>\n'
    ).encode()


def _image_uri(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def badge_images(art: BadgeArt, image_uris: list[Any]) -> BadgeImages:
    """The badge as SVG and PNG: the first usable inline (``data:``) image in ``image_uris``, else generated."""
    return _badge_images(art, tuple(uri for uri in map(_image_uri, image_uris) if uri))


@lru_cache(maxsize=256)
def _badge_images(art: BadgeArt, uris: tuple[str, ...]) -> BadgeImages:
    label = f"{art.title} — badge issued by {art.issuer}"
    for uri in uris:
        decoded = _decode_data_uri(uri)
        if decoded is None:
            continue
        media_type, data = decoded
        if media_type == "image/svg+xml" and _is_svg(data):
            # No SVG rasteriser here: the PNG form (og:image, baked PNG) is the generated medal.
            return BadgeImages(svg=data, png=generated_png(art), generated=False)
        if media_type in _RASTER_TYPES and (png := _raster_to_png(data)) is not None:
            return BadgeImages(svg=_svg_wrapping_png(png, label), png=png, generated=False)
    return BadgeImages(svg=generated_svg(art), png=generated_png(art), generated=True)
