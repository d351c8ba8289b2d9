"""Multibase base58btc (``z`` prefix), base64url-no-pad (``u`` prefix) and multicodec helpers."""

from __future__ import annotations

import base64
import binascii
import re

import base58

from .errors import KeyFormatError

BASE58BTC_PREFIX = "z"
BASE64URL_PREFIX = "u"
_BASE64URL_NO_PAD = re.compile(r"[A-Za-z0-9_-]*")
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


def encode_base64url(data: bytes) -> str:
    """Return ``data`` as a multibase base64url-no-pad string (``"u"`` + RFC 4648 §5 without ``=``)."""
    return BASE64URL_PREFIX + base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode_base64url(value: str) -> bytes:
    """Decode a multibase base64url-no-pad string; raise :class:`KeyFormatError` if it is not one."""
    if not isinstance(value, str) or not value.startswith(BASE64URL_PREFIX):
        raise KeyFormatError(f"not a multibase base64url value (must start with 'u'): {str(value)[:40]!r}")
    text = value[1:]
    if not _BASE64URL_NO_PAD.fullmatch(text) or len(text) % 4 == 1:
        raise KeyFormatError("invalid base64url-no-pad characters or length")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"invalid base64url: {exc}") from exc
