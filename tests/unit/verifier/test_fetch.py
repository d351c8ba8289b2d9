"""Fetching issuer documents and status lists: policy (https only, limits), the cache, did:web resolution."""

from __future__ import annotations

import asyncio
import copy
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import (
    CachingFetcher,
    FetchedDocument,
    FetchError,
    HttpDocumentFetcher,
    Profile,
    StaticFetcher,
    did_web_document_url,
    public_key_multibase,
    sign_credential,
    verify_with_fetch,
)
from shared.credentials.fetch import _is_public_address, max_age_seconds
from tests.unit.credentials.samples import STATUS_LIST_URL, with_status

DID = "did:web:issuer.example%3A8443:tenants:acme"
DID_URL = "https://issuer.example:8443/tenants/acme/did.json"


def test_did_web_urls() -> None:
    assert did_web_document_url(DID) == DID_URL
    assert did_web_document_url("did:web:issuer.example") == "https://issuer.example/.well-known/did.json"
    assert (
        did_web_document_url("did:web:127.0.0.1%3A8003", ["127.0.0.1"]) == "http://127.0.0.1:8003/.well-known/did.json"
    )
    for bad in ("did:web:", "did:web:a::b", "did:key:z6Mk", "did:web:a#key"):
        with pytest.raises(ValueError):
            did_web_document_url(bad)


def test_cache_control_parsing() -> None:
    assert max_age_seconds({"cache-control": "public, max-age=60"}) == 60
    assert max_age_seconds({"cache-control": "no-store"}) == 0
    assert max_age_seconds({"cache-control": "max-age=60, no-cache"}) == 0
    assert max_age_seconds({}) is None


def _client(handler: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _fetcher(handler: Any, **kwargs: Any) -> HttpDocumentFetcher:
    # check_addresses=False: MockTransport answers; no DNS lookup of the made-up hosts.
    return HttpDocumentFetcher(client=_client(handler), check_addresses=False, **kwargs)


async def test_fetches_json_with_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "application/did+ld+json" in request.headers["accept"]
        return httpx.Response(200, json={"id": "x"}, headers={"Cache-Control": "max-age=30"})

    document = await _fetcher(handler).fetch("https://issuer.example/doc")
    assert document.json == {"id": "x"}
    assert document.headers["cache-control"] == "max-age=30"


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(404), "not_found"),
        (httpx.Response(410), "not_found"),
        (httpx.Response(503), "unavailable"),
        (httpx.Response(403), "unavailable"),
        (httpx.Response(200, content=b"<html>"), "invalid"),
        (httpx.Response(200, content=b"x" * 2000), "invalid"),
        (httpx.Response(200, content=b"[" * 600 + b"]" * 600, headers={"content-length": "1200"}), "invalid"),
    ],
    ids=["404", "410", "503", "403", "not-json", "too-large-streamed", "too-large-declared"],
)
async def test_failures_are_classified(response: httpx.Response, kind: str) -> None:
    with pytest.raises(FetchError) as info:
        await _fetcher(lambda _r: response, max_bytes=1000).fetch("https://issuer.example/doc")
    assert info.value.kind == kind


async def test_network_errors_and_timeouts_are_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    for handler in (refuse, slow):
        with pytest.raises(FetchError) as info:
            await _fetcher(handler, timeout=0.2).fetch("https://issuer.example/doc")
        assert info.value.kind == "unavailable"


async def test_https_only_and_redirects_rechecked() -> None:
    fetcher = _fetcher(lambda _r: httpx.Response(200, json={}))
    for url in ("http://issuer.example/doc", "ftp://issuer.example/doc", "https://user:pw@issuer.example/doc"):
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(url)
        assert info.value.kind == "refused"

    def downgrade(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http://issuer.example/doc"})

    with pytest.raises(FetchError) as info:
        await _fetcher(downgrade).fetch("https://issuer.example/start")
    assert info.value.kind == "refused"

    hops = iter(range(10))

    def loop(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": f"/hop{next(hops)}"})

    with pytest.raises(FetchError, match="redirects"):
        await _fetcher(loop).fetch("https://issuer.example/start")


async def test_private_addresses_refused_unless_listed() -> None:
    fetcher = HttpDocumentFetcher(client=_client(lambda _r: httpx.Response(200, json={})))
    for url in ("https://127.0.0.1/doc", "https://10.1.2.3/doc", "https://[::1]/doc", "https://169.254.169.254/x"):
        with pytest.raises(FetchError) as info:
            await fetcher.fetch(url)
        assert info.value.kind == "refused", url
    listed = HttpDocumentFetcher(client=_client(lambda _r: httpx.Response(200, json={})), insecure_hosts=["127.0.0.1"])
    assert (await listed.fetch("http://127.0.0.1/doc")).json == {}


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (cloud metadata)
        "64:ff9b:1::808:808",  # local-use NAT64 prefix (RFC 8215)
        "2002:7f00:1::1",  # 6to4 (RFC 3056) of 127.0.0.1
        "2002:808:808::1",  # 6to4, even of a public address
        "::7f00:1",  # IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
        "::ffff:10.0.0.1",  # IPv4-mapped (RFC 4291 §2.5.5.2) of a private address
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo (RFC 4380)
    ],
)
async def test_ipv6_forms_embedding_ipv4_are_internal(address: str) -> None:
    fetcher = HttpDocumentFetcher(client=_client(lambda _r: httpx.Response(200, json={})))
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(f"https://[{address}]/doc")
    assert info.value.kind == "refused"


def test_embedded_public_ipv4_stays_public() -> None:
    # A DNS64 answer for a public IPv4-only host must stay fetchable from an IPv6-only verifier.
    assert _is_public_address("64:ff9b::808:808") and _is_public_address("::ffff:8.8.8.8")
    assert _is_public_address("2001:4860:4860::8888")


async def test_a_refused_redirect_is_reported_as_refused(
    did_web_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, now: datetime
) -> None:
    def to_metadata(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("did.json"):
            return httpx.Response(200, json=_did_document(issuer_key))
        return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data"})

    unsigned = with_status({k: v for k, v in did_web_credential.items() if k != "proof"}, 5)
    credential = sign_credential(unsigned, issuer_key, f"{DID}#key-1", datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(FetchError) as info:
        await _fetcher(to_metadata).fetch(STATUS_LIST_URL)
    assert info.value.url == STATUS_LIST_URL and info.value.kind == "refused"
    report = await verify_with_fetch(credential, _fetcher(to_metadata), now)
    [status] = [c for c in report.checks if c.check == "status"]
    assert status.outcome == "undetermined" and "refused" in status.message and "not supplied" not in status.message


class _Handler(http.server.BaseHTTPRequestHandler):
    documents: dict[str, Any] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.documents.get(self.path)).encode()
        self.send_response(200 if self.path in self.documents else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=120")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_real_http_to_a_listed_development_host(local_server: str) -> None:
    _Handler.documents = {"/doc.json": {"ok": True}}
    fetched = await HttpDocumentFetcher(insecure_hosts=["127.0.0.1"]).fetch(f"http://{local_server}/doc.json")
    assert fetched.json == {"ok": True} and fetched.headers["cache-control"] == "max-age=120"
    with pytest.raises(FetchError) as info:
        await HttpDocumentFetcher().fetch(f"http://{local_server}/doc.json")  # production: https only
    assert info.value.kind == "refused"
    with pytest.raises(FetchError) as info:
        await HttpDocumentFetcher(insecure_hosts=["127.0.0.1"]).fetch(f"http://{local_server}/missing.json")
    assert info.value.kind == "not_found"


class _Counting:
    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.calls = 0
        self.fail = False
        self.headers = headers or {}

    async def fetch(self, url: str) -> FetchedDocument:
        self.calls += 1
        await asyncio.sleep(0)
        if self.fail:
            raise FetchError(url, "unavailable", "origin down")
        return FetchedDocument(url, {"n": self.calls}, self.headers)


async def test_cache_honours_max_age_and_never_serves_stale() -> None:
    clock = [0.0]
    origin = _Counting({"cache-control": "max-age=60"})
    cache = CachingFetcher(origin, monotonic=lambda: clock[0])
    assert (await cache.fetch("https://x/list")).json == {"n": 1}
    clock[0] = 59
    assert (await cache.fetch("https://x/list")).json == {"n": 1}
    clock[0] = 61
    origin.fail = True
    with pytest.raises(FetchError):
        await cache.fetch("https://x/list")  # expired and the origin is down: no stale answer
    origin.fail = False
    assert (await cache.fetch("https://x/list")).json == {"n": 3}


async def test_cache_default_ttl_no_store_and_single_flight() -> None:
    clock = [0.0]
    origin = _Counting()
    cache = CachingFetcher(origin, default_ttl=10, monotonic=lambda: clock[0])
    results = await asyncio.gather(*(cache.fetch("https://x/a") for _ in range(5)))
    assert origin.calls == 1 and {r.json["n"] for r in results} == {1}
    clock[0] = 11
    await cache.fetch("https://x/a")
    assert origin.calls == 2
    no_store = _Counting({"cache-control": "no-store"})
    cache = CachingFetcher(no_store)
    await cache.fetch("https://x/b")
    await cache.fetch("https://x/b")
    assert no_store.calls == 2


def _did_document(key: Ed25519PrivateKey, did: str = DID) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#key-1",
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_key_multibase(key),
            }
        ],
        "assertionMethod": [f"{did}#key-1"],
    }


@pytest.fixture
def did_web_credential(unsigned_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, signed_at: datetime) -> Any:
    doc = copy.deepcopy(unsigned_credential)
    doc["issuer"] = Profile(id=DID, name="Acme Academy").model_dump(exclude_none=True)
    return sign_credential(doc, issuer_key, f"{DID}#key-1", signed_at)


async def test_did_web_issuer_resolved_through_the_fetcher(
    did_web_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, now: datetime
) -> None:
    report = await verify_with_fetch(did_web_credential, StaticFetcher({DID_URL: _did_document(issuer_key)}), now)
    assert report.verified, report.failures()

    wrong_id = _did_document(issuer_key, "did:web:elsewhere.example")
    report = await verify_with_fetch(did_web_credential, StaticFetcher({DID_URL: wrong_id}), now)
    assert "issuer.key_unresolved" in report.codes()

    class Missing:
        def __init__(self, kind: str) -> None:
            self.kind = kind

        async def fetch(self, url: str) -> FetchedDocument:
            raise FetchError(url, self.kind, "no")

    outcomes = {}
    for kind in ("unavailable", "not_found"):
        report = await verify_with_fetch(did_web_credential, Missing(kind), now)
        outcomes[kind] = [(c.outcome, c.code) for c in report.checks if c.check == "issuer.key"]
    assert outcomes == {
        "unavailable": [("undetermined", "issuer.key_unavailable")],
        "not_found": [("failed", "issuer.key_unresolved")],
    }


async def test_rotated_key_still_in_the_document_verifies(
    did_web_credential: dict[str, Any], issuer_key: Ed25519PrivateKey, now: datetime
) -> None:
    from shared.credentials import generate_key

    document = _did_document(generate_key())
    old = _did_document(issuer_key)["verificationMethod"][0]
    document["verificationMethod"].append(old)
    document["assertionMethod"].append(old["id"])
    document["verificationMethod"][0]["id"] = f"{DID}#key-2"
    document["assertionMethod"][0] = f"{DID}#key-2"
    report = await verify_with_fetch(did_web_credential, StaticFetcher({DID_URL: document}), now)
    assert report.verified, report.failures()
