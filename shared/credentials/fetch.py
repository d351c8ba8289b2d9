"""Fetching the documents a verification needs (did:web DID documents, key documents, status lists).

:class:`DocumentFetcher` is the port: ``await fetcher.fetch(url) -> FetchedDocument`` or
:class:`FetchError`. Adapters:

- :class:`HttpDocumentFetcher` — httpx over the network: https only (plain http only for hosts listed as
  insecure, for development), timeouts, a response size limit, bounded redirects re-checked against the same
  policy, and private/loopback addresses refused unless listed (the verifier fetches URLs that strangers put
  in credentials: it must not become a proxy into the network it runs in).
- :class:`CachingFetcher` — wraps another fetcher; keeps each document for its ``Cache-Control: max-age``
  (a default when absent, nothing for ``no-store``/``no-cache``) and never serves an expired copy.
- :class:`StaticFetcher` — documents supplied up front (``credstream verify --doc``, tests, an embedded
  stack that answers in-process), optionally falling back to another fetcher.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urljoin, urlsplit

import httpx

from .documents import DocumentFailure, FailureKind
from .errors import CredentialError
from .untrusted_json import UntrustedJsonError, parse_json

DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_BYTES = 512 * 1024  # status lists of 131072 entries are ~17 KB gzipped; DID documents are tiny
DEFAULT_MAX_REDIRECTS = 3
DEFAULT_TTL_SECONDS = 300.0
MAX_TTL_SECONDS = 24 * 3600.0
ACCEPT = "application/did+ld+json, application/ld+json, application/vc+ld+json, application/json;q=0.9, */*;q=0.1"
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FetchedDocument:
    """A fetched JSON document with the response headers (lower-case names) and when it was fetched."""

    url: str
    json: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    fetched_at: datetime = field(default_factory=_utcnow)


class FetchError(CredentialError):
    """A document could not be fetched; ``kind`` says whether that is evidence (not_found, invalid) or not."""

    code = "document.unavailable"

    def __init__(self, url: str, kind: FailureKind, message: str) -> None:
        super().__init__(message, code=f"document.{kind}")
        self.url = url
        self.kind: FailureKind = kind

    def as_failure(self) -> DocumentFailure:
        """The failure as recorded in a :class:`~shared.credentials.documents.DocumentSet`."""
        return DocumentFailure(self.url, self.kind, str(self))


@runtime_checkable
class DocumentFetcher(Protocol):
    """Port: fetch a JSON document by URL (raise :class:`FetchError` when it cannot be had)."""

    async def fetch(self, url: str) -> FetchedDocument:
        """Return the document at ``url``."""
        ...


def max_age_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds a response may be reused per its ``Cache-Control`` header; 0 for no-store/no-cache; None if unsaid."""
    value = headers.get("cache-control", "")
    directives = {d.strip().split("=")[0].lower() for d in value.split(",")}
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    found = _MAX_AGE.search(value)
    return float(found.group(1)) if found else None


class StaticFetcher:
    """Serve documents supplied up front; other URLs go to ``fallback`` or fail as unavailable (offline)."""

    def __init__(
        self,
        documents: Mapping[str, Any],
        *,
        fallback: DocumentFetcher | None = None,
        clock: Clock = _utcnow,
    ) -> None:
        self._documents = dict(documents)
        self._fallback = fallback
        self._clock = clock

    async def fetch(self, url: str) -> FetchedDocument:
        """Return the supplied document, else ask the fallback."""
        if url in self._documents:
            return FetchedDocument(url, self._documents[url], {}, self._clock())
        if self._fallback is not None:
            return await self._fallback.fetch(url)
        raise FetchError(url, "unavailable", f"{url} was not supplied and fetching is off (offline)")


@dataclass
class _Entry:
    document: FetchedDocument
    expires: float


class CachingFetcher:
    """Cache another fetcher's documents for their ``max-age``; concurrent fetches of one URL share one request.

    An expired entry is never served, even when the origin is down: a status list that cannot be fetched and
    has no fresh copy must make the status *undetermined*, not silently "as it was last week".
    """

    def __init__(
        self,
        inner: DocumentFetcher,
        *,
        default_ttl: float = DEFAULT_TTL_SECONDS,
        max_ttl: float = MAX_TTL_SECONDS,
        max_entries: int = 1024,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._default_ttl = default_ttl
        self._max_ttl = max_ttl
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._in_flight: dict[str, asyncio.Future[FetchedDocument]] = {}

    def _fresh(self, url: str) -> FetchedDocument | None:
        entry = self._entries.get(url)
        if entry is None:
            return None
        if entry.expires <= self._monotonic():
            del self._entries[url]
            return None
        self._entries.move_to_end(url)
        return entry.document

    def _store(self, document: FetchedDocument) -> None:
        ttl = max_age_seconds(document.headers)
        ttl = self._default_ttl if ttl is None else min(ttl, self._max_ttl)
        if ttl <= 0:
            return
        self._entries[document.url] = _Entry(document, self._monotonic() + ttl)
        self._entries.move_to_end(document.url)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def fetch(self, url: str) -> FetchedDocument:
        """Return a fresh cached copy, else fetch (joining a fetch of the same URL already under way)."""
        cached = self._fresh(url)
        if cached is not None:
            return cached
        pending = self._in_flight.get(url)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[FetchedDocument] = asyncio.get_running_loop().create_future()
        self._in_flight[url] = future
        try:
            document = await self._inner.fetch(url)
            self._store(document)
            future.set_result(document)
            return document
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._in_flight[url]

    def clear(self) -> None:
        """Forget every cached document."""
        self._entries.clear()


_NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 §2.1
_NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translator
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")  # RFC 3056 (relays deprecated, RFC 7526)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291 §2.5.5.1 (deprecated)


def _is_public_address(address: str) -> bool:
    """True if ``address`` is a public unicast address, including any IPv4 address it carries.

    An IPv6 address can carry an IPv4 one that a translator or tunnel in the verifier's network would reach:
    ``64:ff9b::7f00:1`` is 127.0.0.1 through NAT64, yet Python counts it as global. So: NAT64 well-known
    prefix and IPv4-mapped addresses (RFC 4291 §2.5.5.2) are judged by the IPv4 address they embed (a
    DNS64 answer for a public host stays fetchable from an IPv6-only verifier); the local-use NAT64 prefix,
    6to4 and the deprecated IPv4-compatible form are internal whatever they embed (no public document needs
    them, and where they lead depends on the network); Teredo (RFC 4380) is not global in Python already.
    """
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE or ip in _SIX_TO_FOUR or ip in _IPV4_COMPATIBLE:
            return False
        embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64_WELL_KNOWN else None)
        if embedded is not None:
            return embedded.is_global and not embedded.is_multicast
    return ip.is_global and not ip.is_multicast


class HttpDocumentFetcher:
    """Fetch JSON documents over HTTP(S) with httpx, refusing what a public verifier must not fetch.

    ``insecure_hosts`` (host names or IPs, e.g. ``{"127.0.0.1", "localhost"}``) may use plain http and may
    resolve to private or loopback addresses — for development and tests only; production leaves it empty.
    """

    def __init__(
        self,
        *,
        insecure_hosts: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        client: httpx.AsyncClient | None = None,
        clock: Clock = _utcnow,
        check_addresses: bool = True,
    ) -> None:
        self._insecure_hosts = frozenset(h.strip().lower() for h in insecure_hosts if h.strip())
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._client = client
        self._clock = clock
        self._check_addresses = check_addresses

    async def check_url(self, url: str) -> None:
        """Raise FetchError unless this fetcher's policy lets it contact ``url`` (scheme, no credentials in it,
        public addresses only); the webhooks service holds endpoint URLs to the same policy."""
        await self._check_url(url)

    def _host_allowed_insecure(self, host: str) -> bool:
        return host.lower() in self._insecure_hosts

    async def _check_url(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if not host:
            raise FetchError(url, "refused", f"{url!r} has no host")
        if parts.username or parts.password:
            raise FetchError(url, "refused", f"{url!r} carries credentials")
        if parts.scheme == "http" and not self._host_allowed_insecure(host):
            raise FetchError(url, "refused", f"plain http is not allowed for {host} (https only)")
        if parts.scheme not in ("http", "https"):
            raise FetchError(url, "refused", f"unsupported URL scheme {parts.scheme!r}")
        if self._check_addresses and not self._host_allowed_insecure(host):
            await self._check_public(url, host, parts.port or (443 if parts.scheme == "https" else 80))

    async def _check_public(self, url: str, host: str, port: int) -> None:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise FetchError(url, "unavailable", f"cannot resolve {host}: {error}") from error
        private = sorted({info[4][0] for info in infos if not _is_public_address(str(info[4][0]))})
        if private:
            raise FetchError(url, "refused", f"{host} resolves to a non-public address ({', '.join(private)})")

    async def fetch(self, url: str) -> FetchedDocument:
        """GET ``url`` (following at most ``max_redirects`` checked redirects) and parse the JSON body."""
        client = self._client or httpx.AsyncClient()
        try:
            async with asyncio.timeout(self._timeout * (self._max_redirects + 1)):
                return await self._fetch(client, url)
        except TimeoutError as error:
            raise FetchError(url, "unavailable", f"timed out fetching {url}") from error
        finally:
            if self._client is None:
                await client.aclose()

    async def _fetch(self, client: httpx.AsyncClient, url: str) -> FetchedDocument:
        target = url
        for _ in range(self._max_redirects + 1):
            try:
                await self._check_url(target)
            except FetchError as error:
                if target == url:
                    raise
                # Reported under the URL that was asked for, so the verdict says "refused", not "not supplied".
                raise FetchError(url, error.kind, f"{url} redirects to {target}, which is refused: {error}") from error
            try:
                async with client.stream(
                    "GET", target, headers={"Accept": ACCEPT}, timeout=self._timeout, follow_redirects=False
                ) as response:
                    if response.is_redirect and "location" in response.headers:
                        target = urljoin(target, response.headers["location"])
                        continue
                    self._check_status(url, response)
                    body = await self._read_limited(url, response)
                    headers = {k.lower(): v for k, v in response.headers.items()}
            except httpx.HTTPError as error:
                raise FetchError(url, "unavailable", f"cannot fetch {url}: {type(error).__name__}: {error}") from error
            try:
                document = parse_json(body)
            except UntrustedJsonError as error:
                raise FetchError(url, "invalid", f"{url} is not JSON we can read: {error}") from error
            return FetchedDocument(url, document, headers, self._clock())
        raise FetchError(url, "unavailable", f"more than {self._max_redirects} redirects fetching {url}")

    @staticmethod
    def _check_status(url: str, response: httpx.Response) -> None:
        if response.status_code in (404, 410):
            raise FetchError(url, "not_found", f"{url} answered {response.status_code}")
        if response.status_code >= 400 or response.status_code < 200:
            raise FetchError(url, "unavailable", f"{url} answered {response.status_code}")

    async def _read_limited(self, url: str, response: httpx.Response) -> bytes:
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self._max_bytes:
            raise FetchError(url, "invalid", f"{url} is larger than {self._max_bytes} bytes")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_bytes:
                raise FetchError(url, "invalid", f"{url} is larger than {self._max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
