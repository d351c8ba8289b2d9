"""The two status methods older than Bitstring Status List: reading them (pure, no I/O).

- **StatusList2021Entry** (W3C CCG "Status List 2021", the draft Bitstring Status List grew from): the entry names a
  ``StatusList2021Credential`` whose ``StatusList2021`` subject has an ``encodedList`` = base64 (no multibase
  prefix; padded or not, either alphabet in the wild) of the GZIP-compressed bitstring, most significant bit
  first. The list credential is a credential like any other and must verify (the caller does that).
- **1EdTechRevocationList** (OB 3.0 / CLR 2.0 "1EdTech Revocation List Status Method"): the entry's ``id`` is the URL
  of a plain JSON document (no proof: its authority is the issuer's choice of URL, inside the signed credential)
  whose ``revokedCredentials`` lists ``{id, revoked?, revocationReason?}``; the credential is revoked when its
  ``id`` is listed and ``revoked`` is true or absent. The 1EdTech validator reads the member as
  ``revokedCredential`` (singular) while its comment and the spec say ``revokedCredentials``: both are read.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .documents import DocumentSet
from .inflate import InflateError, inflate
from .status import MAX_LIST_BYTES, StatusListError, read_status

STATUS_LIST_2021 = "https://w3id.org/vc/status-list#"
STATUS_LIST_2021_ENTRY = STATUS_LIST_2021 + "StatusList2021Entry"
STATUS_LIST_2021_CREDENTIAL = "StatusList2021Credential"
STATUS_LIST_2021_SUBJECT = "StatusList2021"
REVOCATION_LIST_1EDTECH = "1EdTechRevocationList"
# A revocation list bigger than this many entries is refused (a hostile URL must not cost unbounded work).
MAX_REVOKED_ENTRIES = 1_000_000


def is_1edtech_revocation_list(types: frozenset[str]) -> bool:
    """True when a status entry's type IRIs name ``1EdTechRevocationList``.

    No published context defines the term: under VC 2.0 it expands through ``@vocab`` (issuer-dependent
    namespace), under VC 1.1 to a relative IRI, so the last path segment is what identifies it.
    """
    return any(
        t == REVOCATION_LIST_1EDTECH or t.rsplit("#", 1)[-1].rsplit("/", 1)[-1] == REVOCATION_LIST_1EDTECH
        for t in types
    )


def decode_status_list_2021(encoded: Any) -> bytes:
    """Decode a Status List 2021 ``encodedList``: base64 (standard or URL alphabet, padding optional) of GZIP."""
    if not isinstance(encoded, str) or not encoded:
        raise StatusListError("encodedList is missing", "status.list_invalid")
    text = encoded.strip()
    altchars = b"-_" if any(c in text for c in "-_") else b"+/"
    try:
        compressed = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise StatusListError(f"encodedList is not base64: {exc}", "status.list_invalid") from exc
    try:
        bits = inflate(compressed, MAX_LIST_BYTES, gzip=True)
    except InflateError as exc:
        raise StatusListError(f"encodedList: {exc}", "status.list_invalid") from exc
    if not bits:
        raise StatusListError("encodedList decodes to an empty bitstring", "status.list_invalid")
    return bits


def _types(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def status_list_2021_bit(list_credential: Any, purpose: str, index: int) -> int:
    """The bit at ``index`` of a (verified) ``StatusList2021Credential`` for ``purpose``."""
    if not isinstance(list_credential, dict):
        raise StatusListError("status list is not a JSON object", "status.list_invalid")
    types = _types(list_credential.get("type"))
    if STATUS_LIST_2021_CREDENTIAL not in types:
        raise StatusListError(f"status list credential type {types!r} lacks {STATUS_LIST_2021_CREDENTIAL}")
    subject = list_credential.get("credentialSubject")
    if not isinstance(subject, dict) or STATUS_LIST_2021_SUBJECT not in _types(subject.get("type")):
        raise StatusListError(f"status list subject is not a {STATUS_LIST_2021_SUBJECT}")
    purposes = _types(subject.get("statusPurpose"))
    if purpose not in purposes:
        raise StatusListError(f"status list is for {purposes!r}, not {purpose!r}", "status.purpose_mismatch")
    return read_status(decode_status_list_2021(subject.get("encodedList")), index)


def revoked_in_1edtech_list(revocation_list: Any, credential_id: str) -> bool:
    """Whether a 1EdTech revocation list document lists ``credential_id`` as revoked."""
    if not isinstance(revocation_list, dict):
        raise StatusListError("revocation list is not a JSON object", "status.list_invalid")
    entries = revocation_list.get("revokedCredentials", revocation_list.get("revokedCredential", []))
    entries = entries if isinstance(entries, list) else [entries]
    if len(entries) > MAX_REVOKED_ENTRIES:
        raise StatusListError(f"revocation list has more than {MAX_REVOKED_ENTRIES} entries", "status.list_invalid")
    for item in entries:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise StatusListError("revocation list entry has no id", "status.list_invalid")
        revoked = item.get("revoked", True)
        if not isinstance(revoked, bool):
            raise StatusListError(f"revocation list entry revoked={revoked!r} is not a boolean", "status.list_invalid")
        if item["id"] == credential_id and revoked:
            return True
    return False


def revocation_list_check(
    list_url: str | None, credential_id: str | None, documents: DocumentSet
) -> tuple[str, str, str]:
    """(outcome, code, message) of the ``status`` check for a ``1EdTechRevocationList`` entry."""
    if list_url is None:
        return "failed", "status.entry_invalid", "1EdTechRevocationList entry has no id (the list URL)"
    if credential_id is None:
        return "failed", "status.entry_invalid", "a credential without an id cannot be looked up in a revocation list"
    revocation_list = documents.get(list_url)
    if revocation_list is None:
        failure = documents.failure(list_url)
        why = failure.message if failure is not None else "it was not supplied"
        message = f"cannot tell whether the credential is revoked: no fresh copy of {list_url} ({why})"
        return "undetermined", "status.unavailable", message
    try:
        revoked = revoked_in_1edtech_list(revocation_list, credential_id)
    except StatusListError as exc:
        return "undetermined", exc.code, f"revocation list {list_url}: {exc}"
    if revoked:
        return "failed", "status.revoked", "the issuer has revoked this credential"
    return "passed", "status.active", f"not revoked (revocation list {list_url})"
