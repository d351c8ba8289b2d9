"""Verification with document gathering: fetch what a credential points to, then run the pure core.

:func:`gather_documents` collects — concurrently, through any :class:`~shared.credentials.fetch.DocumentFetcher`
— the issuer's DID/key documents and the status list credentials (and, in a second round, the key documents
of the status lists' issuers). :func:`verify_with_fetch` then calls
:func:`~shared.credentials.verification.verify_credential` with them. Fetch failures are recorded, not
raised, so the report can say *undetermined* where the network let us down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from .documents import DocumentFailure, DocumentSet
from .errors import CredentialError
from .fetch import DocumentFetcher, FetchError
from .graph import SignedCredential, read_credential, read_credential_statements, readable_statements
from .jsonld import DocumentLoader, expand
from .legacy_status import REVOCATION_LIST_1EDTECH, is_1edtech_revocation_list
from .resolver import DocumentResolver, key_document_url
from .untrusted_json import json_problem
from .verification import DEFAULT_CLOCK_SKEW, VerificationReport, verify_credential

# A credential may point at several documents, but not at hundreds: bound the work a stranger can cause.
MAX_DOCUMENTS = 16


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def key_urls(credential: Any, insecure_hosts: Iterable[str] = ()) -> list[str]:
    """URLs of the documents needed to resolve the credential's proof keys (none for did:key)."""
    if not isinstance(credential, dict):
        return []
    urls = []
    for proof in _as_list(credential.get("proof")):
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        url = key_document_url(vm, insecure_hosts) if isinstance(vm, str) else None
        if url is not None and url not in urls:
            urls.append(url)
    return urls


def _list_url(entry: Any) -> Any:
    """The list URL of a JSON status entry: a 1EdTechRevocationList's is its ``id``."""
    if not isinstance(entry, dict):
        return None
    if REVOCATION_LIST_1EDTECH in _as_list(entry.get("type")):
        return entry.get("id")
    return entry.get("statusListCredential")


def status_list_urls(credential: Any, signed: SignedCredential | None = None) -> list[str]:
    """URLs of the status list credentials the credential's status entries point to.

    ``signed``: the entries as the proof covers them (:func:`read_signed_credential`), which is what the
    verdict is taken from; entries spelt in some other JSON form than ``credentialStatus`` are only seen there.
    """
    urls: list[str] = []
    entries = _as_list(credential.get("credentialStatus")) if isinstance(credential, dict) else []
    found = [_list_url(entry) for entry in entries]
    found += (
        [entry.id if is_1edtech_revocation_list(entry.types) else entry.list_url for entry in signed.status]
        if signed is not None
        else []
    )
    for url in found:
        if isinstance(url, str) and url not in urls:
            urls.append(url)
    return urls


async def _fetch_into(documents: DocumentSet, fetcher: DocumentFetcher, urls: list[str]) -> None:
    async def one(url: str) -> None:
        try:
            fetched = await fetcher.fetch(url)
        except FetchError as error:
            documents.fail(error.as_failure())
            return
        documents.add(url, fetched.json, fetched.fetched_at)

    await asyncio.gather(*(one(url) for url in urls))


async def gather_documents(
    credential: Any,
    fetcher: DocumentFetcher,
    *,
    insecure_hosts: Iterable[str] = (),
    documents: DocumentSet | None = None,
    signed: SignedCredential | None = None,
    extra_urls: Iterable[str] = (),
) -> DocumentSet:
    """Fetch every document ``credential`` needs into a :class:`DocumentSet` (failures recorded, not raised).

    ``extra_urls``: more key documents, e.g. a VC-JWT's JWK Set (:func:`~shared.credentials.vcjwt.jwks_urls`)."""
    insecure_hosts = tuple(insecure_hosts)
    documents = documents or DocumentSet()
    status_urls = status_list_urls(credential, signed)
    wanted = [*key_urls(credential, insecure_hosts), *extra_urls, *status_urls]
    first = [url for url in dict.fromkeys(wanted) if not documents.has(url)]
    for url in first[MAX_DOCUMENTS:]:
        documents.fail(DocumentFailure(url, "refused", f"more than {MAX_DOCUMENTS} documents to fetch"))
    await _fetch_into(documents, fetcher, first[:MAX_DOCUMENTS])
    # Status lists are credentials too: their issuers' keys are needed to verify them.
    second: list[str] = []
    for url in status_urls:
        for key_url in key_urls(documents.get(url), insecure_hosts):
            if not documents.has(key_url) and key_url not in second:
                second.append(key_url)
    await _fetch_into(documents, fetcher, second[:MAX_DOCUMENTS])
    return documents


def _read_signed(credential: Any, loader: DocumentLoader | None) -> tuple[SignedCredential | None, list[Any] | None]:
    """What the proof covers, and the unsecured credential's expansion when the full path read it (``None`` when
    the one pass did, or nothing could be read: verification then reports why)."""
    if not isinstance(credential, dict) or json_problem(credential) is not None:
        return None, None
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    statements = readable_statements(unsecured, loader)
    expanded = None
    try:
        if statements is not None:
            return read_credential_statements(statements), None
        expanded = expand(unsecured, loader)
        return read_credential(expanded), expanded
    except CredentialError:
        return None, expanded


def signed_view(credential: Any, loader: DocumentLoader | None = None) -> SignedCredential | None:
    """What the proof covers (issuer, status entries, ...) read from the signed graph; ``None`` when the
    credential cannot be read so (verification then reports why)."""
    return _read_signed(credential, loader)[0]


async def verify_with_fetch(
    credential: Any,
    fetcher: DocumentFetcher,
    now: datetime,
    *,
    insecure_hosts: Iterable[str] = (),
    loader: DocumentLoader | None = None,
    documents: DocumentSet | None = None,
    trust_named_keys: bool = False,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> VerificationReport:
    """Gather the documents ``credential`` needs through ``fetcher``, then verify it with the pure core.

    ``documents`` may pre-supply some (they are not fetched again). Status is always checked: a status list
    that cannot be fetched makes the status *undetermined*. ``trust_named_keys``, ``clock_skew``: see
    ``verify_credential``. The credential is read once (in one pass, or expanded), for finding its status lists
    and for verifying.
    """
    insecure_hosts = tuple(insecure_hosts)
    signed, expanded = _read_signed(credential, loader)
    gathered = await gather_documents(
        credential, fetcher, insecure_hosts=insecure_hosts, documents=documents, signed=signed
    )
    resolver = DocumentResolver(gathered, insecure_hosts=insecure_hosts)
    return verify_credential(
        credential,
        now=now,
        resolver=resolver,
        loader=loader,
        documents=gathered,
        trust_named_keys=trust_named_keys,
        clock_skew=clock_skew,
        expanded=expanded,
    )
