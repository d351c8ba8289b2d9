"""Bounded decompression of untrusted zlib/GZIP data (baked PNG iTXt chunks, status list bitstrings).

A few KB of deflate can expand a thousandfold, so output is capped while inflating, never after.
"""

from __future__ import annotations

import zlib


class InflateError(ValueError):
    """The data is not a complete zlib/GZIP stream, or inflates past the limit."""


def inflate(data: bytes, max_bytes: int, *, gzip: bool = False) -> bytes:
    """Decompress ``data`` (zlib, or GZIP when ``gzip``), refusing more than ``max_bytes`` of output."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
    try:
        output = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise InflateError(f"not valid {'GZIP' if gzip else 'zlib'} data: {exc}") from exc
    if len(output) > max_bytes or inflater.unconsumed_tail:
        raise InflateError(f"inflates to larger than {max_bytes} bytes")
    if not inflater.eof:
        raise InflateError(f"truncated {'GZIP' if gzip else 'zlib'} data")
    return output
