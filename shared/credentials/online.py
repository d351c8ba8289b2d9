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
from datetime import datetime
from typing import Any

from .documents import DocumentFailure, DocumentSet
from .fetch import DocumentFetcher, FetchError
from .jsonld import DocumentLoader
from .resolver import DocumentResolver, key_document_url
from .verification import VerificationReport, verify_credential

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


def status_list_urls(credential: Any) -> list[str]:
    """URLs of the status list credentials the credential's ``credentialStatus`` entries point to."""
    if not isinstance(credential, dict):
        return []
    urls = []
    for entry in _as_list(credential.get("credentialStatus")):
        url = entry.get("statusListCredential") if isinstance(entry, dict) else None
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
) -> DocumentSet:
    """Fetch every document ``credential`` needs into a :class:`DocumentSet` (failures recorded, not raised)."""
    insecure_hosts = tuple(insecure_hosts)
    documents = documents or DocumentSet()
    wanted = [*key_urls(credential, insecure_hosts), *status_list_urls(credential)]
    first = [url for url in dict.fromkeys(wanted) if not documents.has(url)]
    for url in first[MAX_DOCUMENTS:]:
        documents.fail(DocumentFailure(url, "refused", f"more than {MAX_DOCUMENTS} documents to fetch"))
    await _fetch_into(documents, fetcher, first[:MAX_DOCUMENTS])
    # Status lists are credentials too: their issuers' keys are needed to verify them.
    second: list[str] = []
    for url in status_list_urls(credential):
        for key_url in key_urls(documents.get(url), insecure_hosts):
            if not documents.has(key_url) and key_url not in second:
                second.append(key_url)
    await _fetch_into(documents, fetcher, second[:MAX_DOCUMENTS])
    return documents


async def verify_with_fetch(
    credential: Any,
    fetcher: DocumentFetcher,
    now: datetime,
    *,
    insecure_hosts: Iterable[str] = (),
    loader: DocumentLoader | None = None,
    documents: DocumentSet | None = None,
    trust_named_keys: bool = False,
) -> VerificationReport:
    """Gather the documents ``credential`` needs through ``fetcher``, then verify it with the pure core.

    ``documents`` may pre-supply some (they are not fetched again). Status is always checked: a status list
    that cannot be fetched makes the status *undetermined*. ``trust_named_keys``: see ``verify_credential``.
    """
    insecure_hosts = tuple(insecure_hosts)
    gathered = await gather_documents(credential, fetcher, insecure_hosts=insecure_hosts, documents=documents)
    resolver = DocumentResolver(gathered, insecure_hosts=insecure_hosts)
    return verify_credential(
        credential, now=now, resolver=resolver, loader=loader, documents=gathered, trust_named_keys=trust_named_keys
    )
