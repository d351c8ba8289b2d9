"""Verifier use cases for anyone's credential: read a verification request, gather documents, verify.

Kept apart from ``handlers.py`` (the Kafka consumers) so both can grow without stepping on each other.
"""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from shared.credentials.baking import MAX_CREDENTIAL_BYTES, BakingError, extract_from_png, extract_from_svg
from shared.credentials.fetch import CachingFetcher, DocumentFetcher, HttpDocumentFetcher
from shared.credentials.online import verify_with_fetch
from shared.credentials.untrusted_json import UntrustedJsonError, parse_json
from shared.credentials.verification import DEFAULT_CLOCK_SKEW, VerificationReport
from shared.http import ProblemError
from shared.settings import Settings

JSON_MEDIA_TYPES = ("application/json", "application/ld+json", "application/vc+ld+json", "application/vc")
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def build_fetcher(settings: Settings) -> DocumentFetcher:
    """The production fetcher: httpx with the configured limits, behind a Cache-Control-honouring cache."""
    http = HttpDocumentFetcher(
        insecure_hosts=settings.insecure_hosts(),
        timeout=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
    )
    return CachingFetcher(http, default_ttl=settings.fetch_cache_ttl_seconds)


class CredentialVerifier:
    """Verify any OB 3.0 credential, fetching issuer documents and status lists through one shared fetcher."""

    def __init__(
        self,
        fetcher: DocumentFetcher,
        insecure_hosts: frozenset[str] = frozenset(),
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    ) -> None:
        self.fetcher = fetcher
        self.insecure_hosts = insecure_hosts
        self.clock_skew = clock_skew

    async def verify(self, credential: dict[str, Any], now: datetime | None = None) -> VerificationReport:
        """Verify ``credential`` now (or at ``now``), with documents fetched (or served from the cache)."""
        return await verify_with_fetch(
            credential,
            self.fetcher,
            now or datetime.now(UTC),
            insecure_hosts=self.insecure_hosts,
            clock_skew=self.clock_skew,
        )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """Read the body, refusing more than ``max_bytes`` even when no Content-Length was sent (chunked)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise ProblemError(
                413, "Content Too Large", f"The body may hold at most {max_bytes} bytes.", code="request.too_large"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _jwt_problem() -> ProblemError:
    return ProblemError(
        415,
        "VC-JWT is not accepted here",
        "The body looks like a compact JWS (a VC-JWT: header.payload.signature). This endpoint verifies JSON "
        "credentials secured with an embedded Data Integrity proof (eddsa-rdfc-2022, eddsa-2022, "
        "Ed25519Signature2020): send the credential's JSON object.",
        code="request.jwt_not_supported",
    )


def parse_credential(body: bytes, content_type: str | None, max_bytes: int = MAX_CREDENTIAL_BYTES) -> dict[str, Any]:
    """Turn a ``POST /verify`` body into the credential to verify, or raise problem details saying why not.

    Accepts the credential's JSON, ``{"verifiableCredential": credential}`` (VC API style), or a baked badge
    image (``image/png`` with an ``openbadgecredential`` iTXt chunk, ``image/svg+xml`` with
    ``openbadges:credential``). A compressed baked credential may not inflate past ``max_bytes`` (the body
    limit). JSON that cannot be processed safely (nesting, lone surrogates, NaN) is refused with its code.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if not body.strip():
        raise ProblemError(400, "Empty body", "Send the credential to verify as a JSON object.", code="request.empty")
    if media_type in ("image/png", "image/svg+xml"):
        try:
            text = extract_from_png(body, max_bytes) if media_type == "image/png" else extract_from_svg(body)
            body = text.encode()
        except BakingError as error:
            raise ProblemError(422, "No credential in the image", str(error), code="request.not_baked") from error
    elif media_type and media_type not in JSON_MEDIA_TYPES and not media_type.endswith("+json"):
        if media_type in ("text/plain", "application/jwt", "application/vc+jwt") and _COMPACT_JWS.match(
            body.strip().decode("ascii", "replace")
        ):
            raise _jwt_problem()
        raise ProblemError(
            415,
            "Unsupported media type",
            f"Send JSON (application/json or application/vc+ld+json), not {media_type}.",
            code="request.unsupported_media_type",
        )
    try:
        document = parse_json(body)
    except UntrustedJsonError as error:
        if error.code != "data.not_json":
            raise ProblemError(422, "Credential cannot be processed", str(error), code=error.code) from error
        if _COMPACT_JWS.match(body.strip().decode("ascii", "replace")):
            raise _jwt_problem() from error
        raise ProblemError(
            400, "Malformed JSON", f"The body is not valid JSON: {error}", code="request.not_json"
        ) from error
    if isinstance(document, str) and _COMPACT_JWS.match(document.strip()):
        raise _jwt_problem()
    if isinstance(document, dict) and "verifiableCredential" in document:
        document = document["verifiableCredential"]
        if isinstance(document, str) and _COMPACT_JWS.match(document.strip()):
            raise _jwt_problem()
    if not isinstance(document, dict):
        kind = type(document).__name__.replace("dict", "object").replace("list", "array").replace("str", "string")
        raise ProblemError(
            422,
            "Not a credential",
            f"Expected the credential as a JSON object, got a JSON {kind}.",
            code="request.not_an_object",
        )
    return document
