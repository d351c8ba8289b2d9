"""W3C Bitstring Status List v1.0, issuing side: a mutable bitstring and the status list credential.

``encodedList = "u" + base64url-no-padding(GZIP(bitstring))`` (multibase base64url), where index 0 is the
left-most (most significant) bit of the first byte. A list holds at least 131,072 entries (16 KiB), so one
credential's status cannot be singled out from the list's size (herd privacy). The terms
(``BitstringStatusListCredential``, ``BitstringStatusList``, ``encodedList``, ``BitstringStatusListEntry`` …) are
defined by the VC 2.0 context itself: no extra context is needed. Encoding and decoding are those of
:mod:`shared.credentials.status` (the verifier's reader), so issuer and verifier cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from .dates import format_xsd_datetime, require_aware
from .status import (
    BITSTRING_STATUS_LIST,
    BITSTRING_STATUS_LIST_CREDENTIAL,
    MIN_LIST_BITS,
    StatusListError,
    decode_bitstring,
    encode_bitstring,
    read_status,
)
from .structure import VC_V2_CONTEXT

MIN_ENTRIES = MIN_LIST_BITS
StatusPurpose = Literal["revocation", "suspension"]
__all__ = ["MIN_ENTRIES", "StatusBits", "StatusListError", "status_list_credential", "status_of"]


class StatusBits:
    """A fixed-length bitstring; bit ``i`` is bit ``7 - i % 8`` of byte ``i // 8`` (left-to-right indexing)."""

    def __init__(self, size: int = MIN_ENTRIES, data: bytes | None = None) -> None:
        if size <= 0 or size % 8:
            raise StatusListError(f"a status list holds a positive multiple of 8 entries, not {size}")
        if data is not None and len(data) * 8 != size:
            raise StatusListError(f"{len(data)} bytes do not hold exactly {size} entries")
        self._bytes = bytearray(data if data is not None else size // 8)

    @property
    def size(self) -> int:
        return len(self._bytes) * 8

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.size:
            raise StatusListError(f"index {index} is outside the list (0..{self.size - 1})")
        return index // 8, 7 - index % 8

    def get(self, index: int) -> bool:
        byte, shift = self._locate(index)
        return bool(self._bytes[byte] >> shift & 1)

    def set(self, index: int, value: bool = True) -> None:
        byte, shift = self._locate(index)
        if value:
            self._bytes[byte] |= 1 << shift
        else:
            self._bytes[byte] &= ~(1 << shift) & 0xFF

    def set_indexes(self) -> list[int]:
        """Every index whose bit is set (for tests and operators; lists are sparse)."""
        return [i * 8 + bit for i, byte in enumerate(self._bytes) if byte for bit in range(8) if byte & (0x80 >> bit)]

    def to_bytes(self) -> bytes:
        return bytes(self._bytes)

    def encode(self) -> str:
        """The ``encodedList`` value (GZIP with ``mtime=0``: the same bits always give the same text and ETag)."""
        return encode_bitstring(self.to_bytes())

    @classmethod
    def decode(cls, encoded: str) -> StatusBits:
        """Parse an ``encodedList``; raises :class:`StatusListError` on anything malformed or oversized."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise StatusListError('encodedList must be a multibase base64url string (prefix "u")')
        if any(c in encoded for c in "+/="):
            raise StatusListError("encodedList must use the base64url alphabet without padding")
        data = decode_bitstring(encoded)
        if not data:
            raise StatusListError("encodedList decodes to an empty bitstring")
        return cls(len(data) * 8, data)


def status_list_credential(
    *,
    url: str,
    issuer: str | dict[str, Any],
    purpose: StatusPurpose,
    bits: StatusBits,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """The unsigned ``BitstringStatusListCredential`` published at ``url`` (its ``id``).

    Sign it like any credential (``sign_credential(..., check_structure=False)``: it is not an Open Badge).
    """
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", BITSTRING_STATUS_LIST_CREDENTIAL],
        "issuer": issuer,
        "validFrom": format_xsd_datetime(require_aware(valid_from, "valid_from")),
        "credentialSubject": {
            "id": f"{url}#list",
            # A plain string, not a list: Digital Bazaar's checker compares `type === "BitstringStatusList"`.
            "type": BITSTRING_STATUS_LIST,
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
        },
    }
    if valid_until is not None:
        credential["validUntil"] = format_xsd_datetime(require_aware(valid_until, "valid_until"))
    return credential


def status_of(status_list: dict[str, Any], index: int) -> bool:
    """The bit at ``index`` of a (verified) status list credential's ``encodedList``."""
    subject = status_list.get("credentialSubject")
    if not isinstance(subject, dict):
        raise StatusListError("status list credential has no credentialSubject object")
    return bool(read_status(decode_bitstring(subject.get("encodedList")), index))
