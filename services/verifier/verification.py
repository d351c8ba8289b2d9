"""Verifier use cases for anyone's credential: read a verification request, gather documents, verify.

Kept apart from ``handlers.py`` (the Kafka consumers) so both can grow without stepping on each other.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from services.verifier.pool import (
    VerificationLimits,
    VerificationPool,
    VerificationTimedOut,
    VerifierBusy,
    VerifierClosed,
)
from shared import metrics
from shared.credentials.baking import MAX_CREDENTIAL_BYTES, BakingError, extract_from_png, extract_from_svg
from shared.credentials.fetch import CachingFetcher, DocumentFetcher, HttpDocumentFetcher
from shared.credentials.online import gather_documents
from shared.credentials.untrusted_json import UntrustedJsonError, parse_json
from shared.credentials.vcjwt import VcJwt, VcJwtError, decode_vc_jwt, is_compact_jws, jwks_urls
from shared.credentials.verification import DEFAULT_CLOCK_SKEW, VerificationReport
from shared.http import ProblemError
from shared.settings import Settings

JSON_MEDIA_TYPES = ("application/json", "application/ld+json", "application/vc+ld+json", "application/vc")


def build_fetcher(settings: Settings) -> DocumentFetcher:
    """The production fetcher: httpx with the configured limits, behind a Cache-Control-honouring cache."""
    http = HttpDocumentFetcher(
        insecure_hosts=settings.insecure_hosts(),
        timeout=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
    )
    return CachingFetcher(http, default_ttl=settings.fetch_cache_ttl_seconds)


def verification_limits(settings: Settings) -> VerificationLimits:
    return VerificationLimits(
        workers=settings.verify_workers,
        max_waiting=settings.verify_max_waiting,
        deadline_seconds=settings.verify_deadline_seconds,
        max_work=settings.verify_max_work,
    )


class CredentialVerifier:
    """Verify any OB 3.0 credential: documents are fetched here (through one shared fetcher and its cache), the
    CPU work runs in a :class:`VerificationPool` (bounded, with a deadline), never on the event loop."""

    def __init__(
        self,
        fetcher: DocumentFetcher,
        insecure_hosts: frozenset[str] = frozenset(),
        pool: VerificationPool | None = None,
        clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    ) -> None:
        self.fetcher = fetcher
        self.insecure_hosts = insecure_hosts
        self.clock_skew = clock_skew
        self.pool = pool or VerificationPool()

    async def verify(
        self, credential: dict[str, Any] | VcJwt, now: datetime | None = None, *, trust_named_keys: bool = False
    ) -> VerificationReport:
        """Verify ``credential`` now (or at ``now``), with documents fetched (or served from the cache).

        Raises :class:`ProblemError` 503 (with ``Retry-After``) when the pool is full, the deadline passed or
        the service is stopping."""
        hosts = tuple(sorted(self.insecure_hosts))
        try:
            # The status lists to fetch are the ones the proof signs (read in a worker: expansion is CPU work).
            claims = credential.credential if isinstance(credential, VcJwt) else credential
            signed = await self.pool.read_signed(claims)
            extra: list[str] = []
            if isinstance(credential, VcJwt):
                extra = jwks_urls(credential, hosts)
                if credential.key_id is not None and not extra:
                    # The documents to gather are found from a proof's verificationMethod: the JWT's kid stands in.
                    claims = {**claims, "proof": {"verificationMethod": credential.key_id}}
            documents = await gather_documents(
                claims, self.fetcher, insecure_hosts=hosts, signed=signed, extra_urls=extra
            )
            report = await self.pool.verify(
                credential,
                now=now or datetime.now(UTC),
                documents=documents,
                insecure_hosts=hosts,
                trust_named_keys=trust_named_keys,
                clock_skew=self.clock_skew,
            )
            metrics.verification(report)  # here, in the main process: the pool's workers count nothing
            return report
        except VerifierBusy as busy:
            raise _unavailable(
                "Verifier busy", f"Too many verifications at once ({busy}).", "verification.busy"
            ) from busy
        except VerificationTimedOut as late:
            raise _unavailable("Verification took too long", str(late), "verification.timeout") from late
        except VerifierClosed as closed:
            raise _unavailable("Verifier stopping", str(closed), "verification.unavailable") from closed
        except RuntimeError as error:
            metrics.verification_refused("verification.error")
            raise ProblemError(422, "Cannot verify this credential", str(error), code="verification.error") from error

    def close(self) -> None:
        self.pool.close()


# Seconds a client should wait before retrying when the verifier is saturated.
RETRY_AFTER_SECONDS = 2


def _unavailable(title: str, detail: str, code: str) -> ProblemError:
    metrics.verification_refused(code)
    return ProblemError(503, title, detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, code=code)


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


def _vc_jwt(text: str) -> VcJwt:
    try:
        return decode_vc_jwt(text)
    except VcJwtError as error:
        raise ProblemError(422, "Unreadable VC-JWT", str(error), code=error.code) from error


def parse_credential(
    body: bytes, content_type: str | None, max_bytes: int = MAX_CREDENTIAL_BYTES
) -> dict[str, Any] | VcJwt:
    """Turn a ``POST /verify`` body into the credential to verify, or raise problem details saying why not.

    Accepts the credential's JSON, a VC-JWT (``application/jwt``, ``application/vc+jwt``, ``text/plain`` or a
    JSON string), ``{"verifiableCredential": credential}`` (VC API style), or a baked badge
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
        if media_type in ("text/plain", "application/jwt", "application/vc+jwt") and is_compact_jws(
            body.decode("ascii", "replace")
        ):
            return _vc_jwt(body.decode("ascii"))
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
        if is_compact_jws(body.decode("ascii", "replace")):
            return _vc_jwt(body.decode("ascii"))  # a baked VC-JWT, or a JWT sent as JSON
        raise ProblemError(
            400, "Malformed JSON", f"The body is not valid JSON: {error}", code="request.not_json"
        ) from error
    if isinstance(document, dict) and "verifiableCredential" in document:
        document = document["verifiableCredential"]
    if isinstance(document, str) and is_compact_jws(document):
        return _vc_jwt(document)
    if not isinstance(document, dict):
        kind = type(document).__name__.replace("dict", "object").replace("list", "array").replace("str", "string")
        raise ProblemError(
            422,
            "Not a credential",
            f"Expected the credential as a JSON object, got a JSON {kind}.",
            code="request.not_an_object",
        )
    return document
