"""W3C Bitstring Status List v1.0: the bitstring, its ``encodedList`` form and the status list credential.

``encodedList = "u" + base64url-no-padding(GZIP(bitstring))`` (multibase base64url), where index 0 is the
left-most (most significant) bit of the first byte. A list holds at least 131,072 entries (16 KiB), so one
credential's status cannot be singled out from the list's size (herd privacy). The terms
(``BitstringStatusListCredential``, ``BitstringStatusList``, ``encodedList``, ``BitstringStatusListEntry`` …) are
defined by the VC 2.0 context itself: no extra context is needed.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from datetime import datetime
from typing import Any, Literal

from .dates import format_xsd_datetime, require_aware
from .structure import VC_V2_CONTEXT

MIN_ENTRIES = 131_072
STATUS_LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
StatusPurpose = Literal["revocation", "suspension"]
# A verifier decodes lists it fetched from strangers: refuse gzip bombs and absurd sizes.
DEFAULT_MAX_ENTRIES = 8 * 1024 * 1024 * 8  # 8 MiB of bits


class StatusListError(ValueError):
    """An ``encodedList`` that is not a valid multibase/GZIP bitstring, or an index outside the list."""


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
        """The ``encodedList`` value. ``mtime=0`` keeps the output a pure function of the bits (stable ETags)."""
        compressed = gzip.compress(self.to_bytes(), compresslevel=9, mtime=0)
        return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: str, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> StatusBits:
        """Parse an ``encodedList``; raises :class:`StatusListError` on anything malformed or oversized."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise StatusListError('encodedList must be a multibase base64url string (prefix "u")')
        body = encoded[1:]
        if any(c in body for c in "+/="):
            raise StatusListError("encodedList must use the base64url alphabet without padding")
        try:
            compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError) as exc:
            raise StatusListError(f"encodedList is not base64url: {exc}") from exc
        data = _gunzip(compressed, max_entries // 8)
        if not data:
            raise StatusListError("encodedList decodes to an empty bitstring")
        return cls(len(data) * 8, data)


def _gunzip(compressed: bytes, max_bytes: int) -> bytes:
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP framing only
    try:
        data = decompressor.decompress(compressed, max_bytes + 1)
    except zlib.error as exc:
        raise StatusListError(f"encodedList is not GZIP data: {exc}") from exc
    if len(data) > max_bytes:
        raise StatusListError(f"status list is larger than {max_bytes * 8} entries")
    if not decompressor.eof:
        raise StatusListError("encodedList holds truncated GZIP data")
    return data


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
        "type": ["VerifiableCredential", STATUS_LIST_CREDENTIAL_TYPE],
        "issuer": issuer,
        "validFrom": format_xsd_datetime(require_aware(valid_from, "valid_from")),
        "credentialSubject": {
            "id": f"{url}#list",
            # A plain string, not a list: Digital Bazaar's checker compares `type === "BitstringStatusList"`.
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": bits.encode(),
        },
    }
    if valid_until is not None:
        credential["validUntil"] = format_xsd_datetime(require_aware(valid_until, "valid_until"))
    return credential


def status_of(status_list: dict[str, Any], index: int, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> bool:
    """The bit at ``index`` of a (verified) status list credential's ``encodedList``."""
    subject = status_list.get("credentialSubject")
    if not isinstance(subject, dict):
        raise StatusListError("status list credential has no credentialSubject object")
    return StatusBits.decode(subject.get("encodedList", ""), max_entries=max_entries).get(index)
