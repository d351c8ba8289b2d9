"""W3C Bitstring Status List v1.0: reading a credential's status bit (pure, no I/O).

``encodedList`` = multibase base64url (``u`` prefix, no padding) of the GZIP-compressed bitstring; bit ``i``
is bit ``7 - i % 8`` of byte ``i // 8`` (most significant bit first). The status list credential itself is
verified like any credential by :mod:`shared.credentials.verification`; this module only decodes.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass
from typing import Any

from .inflate import InflateError, inflate

BITSTRING_STATUS_LIST_ENTRY = "BitstringStatusListEntry"
BITSTRING_STATUS_LIST_CREDENTIAL = "BitstringStatusListCredential"
BITSTRING_STATUS_LIST = "BitstringStatusList"
# The spec's minimum list size (16 KB uncompressed) protects holders' privacy; smaller lists are still read.
MIN_LIST_BITS = 131_072
# A decompressed list larger than this is refused (a gzip bomb from a hostile status list URL).
MAX_LIST_BYTES = 16 * 1024 * 1024
# statusPurpose -> the word a report uses when the bit is set.
STATUS_WORDS = {"revocation": "revoked", "suspension": "suspended"}


class StatusListError(ValueError):
    """A status list or status entry is malformed; ``code`` is the report code."""

    def __init__(self, message: str, code: str = "status.list_invalid") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StatusEntry:
    """A parsed ``BitstringStatusListEntry``."""

    purpose: str
    index: int
    list_url: str
    status_size: int = 1


def parse_entry(entry: Any) -> StatusEntry:
    """Parse a ``BitstringStatusListEntry`` (``statusListIndex`` may be a decimal string or, leniently, an int)."""
    if not isinstance(entry, dict) or entry.get("type") != BITSTRING_STATUS_LIST_ENTRY:
        raise StatusListError("not a BitstringStatusListEntry", "status.entry_invalid")
    return status_entry(
        entry.get("statusPurpose"),
        entry.get("statusListCredential"),
        entry.get("statusListIndex"),
        entry.get("statusSize", 1),
    )


def status_entry(purpose: Any, url: Any, raw_index: Any, size: Any = 1) -> StatusEntry:
    """Validate the members of a status entry (as JSON values or as the lexical forms of the signed graph)."""
    if not isinstance(purpose, str) or not purpose:
        raise StatusListError("credentialStatus has no statusPurpose", "status.entry_invalid")
    if not isinstance(url, str) or ":" not in url:
        raise StatusListError("credentialStatus has no statusListCredential URL", "status.entry_invalid")
    if isinstance(raw_index, bool) or not (
        (isinstance(raw_index, int) and raw_index >= 0)
        or (isinstance(raw_index, str) and raw_index.isascii() and raw_index.isdigit() and len(raw_index) <= 20)
    ):
        raise StatusListError(f"statusListIndex {raw_index!r} is not a non-negative integer", "status.entry_invalid")
    if size is None:
        size = 1
    if isinstance(size, str) and size.isascii() and size.isdigit() and len(size) <= 20:
        size = int(size)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise StatusListError(f"statusSize {size!r} is not a positive integer", "status.entry_invalid")
    return StatusEntry(purpose, int(raw_index), url, size)


def decode_bitstring(encoded: Any) -> bytes:
    """Decode an ``encodedList`` (multibase base64url ``u…`` of a GZIP stream; bare base64url accepted too)."""
    if not isinstance(encoded, str) or not encoded:
        raise StatusListError("encodedList is missing")
    text = encoded[1:] if encoded.startswith("u") else encoded  # VC Status List 2021 lists have no prefix
    try:
        compressed = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError as exc:
        raise StatusListError(f"encodedList is not base64url: {exc}") from exc
    try:
        return inflate(compressed, MAX_LIST_BYTES, gzip=True)
    except InflateError as exc:
        raise StatusListError(f"encodedList: {exc}") from exc


def encode_bitstring(bits: bytes) -> str:
    """Encode a bitstring as an ``encodedList`` (the inverse of :func:`decode_bitstring`; used in tests)."""
    compressed = gzip.compress(bits, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def read_status(bits: bytes, index: int, size: int = 1) -> int:
    """Return the ``size``-bit status value at position ``index`` (MSB first)."""
    first = index * size
    if first + size > len(bits) * 8:
        raise StatusListError(
            f"statusListIndex {index} is outside the list ({len(bits) * 8 // size} entries)",
            "status.index_out_of_range",
        )
    value = 0
    for position in range(first, first + size):
        value = (value << 1) | ((bits[position // 8] >> (7 - position % 8)) & 1)
    return value


def list_subject(list_credential: dict[str, Any]) -> dict[str, Any]:
    """Return the ``BitstringStatusList`` subject of a status list credential, checking its types."""
    types = list_credential.get("type")
    types = types if isinstance(types, list) else [types]
    if BITSTRING_STATUS_LIST_CREDENTIAL not in types:
        raise StatusListError(f"status list credential type {types!r} lacks {BITSTRING_STATUS_LIST_CREDENTIAL}")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, dict):
        raise StatusListError("status list credential has no credentialSubject object")
    subject_types = subject.get("type")
    subject_types = subject_types if isinstance(subject_types, list) else [subject_types]
    if BITSTRING_STATUS_LIST not in subject_types:
        raise StatusListError(f"status list subject type {subject_types!r} lacks {BITSTRING_STATUS_LIST}")
    return subject
