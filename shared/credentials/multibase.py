"""Multibase base58btc (``z`` prefix) and multicodec helpers."""

from __future__ import annotations

import base58

from .errors import KeyFormatError

BASE58BTC_PREFIX = "z"
# Multicodec varint header for an Ed25519 public key (0xed as unsigned varint = 0xed 0x01).
ED25519_PUB_MULTICODEC = b"\xed\x01"


def encode_base58btc(data: bytes) -> str:
    """Return ``data`` as a multibase base58btc string (``"z"`` + Bitcoin-alphabet base58)."""
    return BASE58BTC_PREFIX + base58.b58encode(data).decode("ascii")


def decode_base58btc(value: str) -> bytes:
    """Decode a multibase base58btc string; raise :class:`KeyFormatError` if it is not one."""
    if not isinstance(value, str) or not value.startswith(BASE58BTC_PREFIX) or len(value) < 2:
        raise KeyFormatError(f"not a multibase base58btc value (must start with 'z'): {value!r}")
    try:
        return base58.b58decode(value[1:])
    except ValueError as exc:
        raise KeyFormatError(f"invalid base58btc characters in {value!r}") from exc
