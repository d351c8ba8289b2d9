"""The LMS-facing HTTP endpoints: native activities, xAPI statements, Caliper envelopes, Canvas live events, LTI AGS
scores. Each request: authenticate the connection → rate limit → parse (problem details with a JSON pointer on
bad input) → map and record in ONE transaction with the outbox rows → answer. Nothing is published before commit,
and a 2xx means the events are durable."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from cachetools import TTLCache
from fastapi import FastAPI, Query, Request, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.connection_store import Connection, by_api_key, open_connection, rules_of
from services.enrollment.adapters.secrets import SecretBox
from services.enrollment.adapters.tables import LmsConnection
from services.enrollment.connections import (
    CONNECTION_HEADER,
    FORMATS,
    SIGNATURE_HEADER,
    AuthenticationError,
    AuthMethod,
    RateLimiter,
    key_hash,
    verify_signature,
)
from services.enrollment.formats import Format, FormatError, Item, lti_ags, media_type, parse, xapi
from services.enrollment.handlers import InvalidActivity, ItemResult, Recorded, ingest
from services.enrollment.mapping import MappingRule
from shared import metrics
from shared.db.engine import SessionFactory, transaction
from shared.http import ProblemError, bearer_token, decode_json_body
from shared.untrusted_json import UntrustedJsonError, check_untrusted

XAPI_VERSION = "1.0.3"
MAX_ITEMS = 1000  # per request, so one request is one short transaction


class ActivityReceipt(BaseModel):
    """What became of one item: accepted (durable, on its way), duplicate (seen before), unmapped (kept; no
    mapping rule covers its course/activity yet), ignored (valid, but nothing credstream acts on)."""

    event_id: str | None
    status: Recorded
    pointer: str = Field(default="", description="JSON pointer of the item in the request body")
    kind: str | None = None
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)


class Receipt(BaseModel):
    accepted: int
    duplicates: int
    unmapped: int = 0
    ignored: int = 0
    results: list[ActivityReceipt]


def receipt(results: list[ItemResult], *, status_code: int = 202) -> Response:
    """The answer: a Receipt, serialised straight from the results (building and validating 500 receipt models
    per request, then FastAPI dumping and validating them again, cost more than recording the activities)."""
    count = {status: 0 for status in Recorded}
    for result in results:
        count[result.status] += 1
    body = {
        "accepted": count[Recorded.ACCEPTED],
        "duplicates": count[Recorded.DUPLICATE],
        "unmapped": count[Recorded.UNMAPPED],
        "ignored": count[Recorded.IGNORED],
        "results": [
            {
                "event_id": r.event_id,
                "status": r.status,
                "pointer": r.pointer,
                "kind": r.kind,
                "reason": r.reason,
                "notes": r.notes,
            }
            for r in results
        ],
    }
    return Response(to_json(body), status_code=status_code, media_type="application/json")


def invalid(error: FormatError, fmt: Format) -> ProblemError:
    metrics.lms_refused(fmt, 422)
    return ProblemError(
        422,
        "Invalid request body",
        f"The {fmt} payload is not valid: {error.pointer}: {error.detail}",
        errors=[{"pointer": error.pointer, "detail": error.detail}],
    )


def decode_json(body: bytes) -> Any:
    if not body.strip():
        raise ProblemError(400, "Empty body", "Send the payload as a JSON body.")
    return decode_json_body(body)


# How long a replica trusts a connection it looked up (enabled, secrets, rate limit) before reading it again. Changes
# made through this replica's admin API apply at once (`forget`); those made through another replica within this.
CONNECTION_CACHE_SECONDS = 5.0


class LmsGate:
    """Decides which connection a request comes from, whether it may send this format, and whether it is within
    its rate limit. Raises problem details (401/403/429) otherwise.

    Connections found are kept for `cache_seconds`, keyed by the presented key's hash and the named connection: a
    database session (BEGIN, SELECT, ROLLBACK) and unsealing the secret per request cost as much as recording a
    request's activities. Signatures (HMAC, JWT) are still checked on every request; unknown keys are not cached.
    Mapping rules (xAPI, Caliper, Canvas, AGS) are kept as long: one SELECT fewer per request."""

    def __init__(
        self,
        sessions: SessionFactory,
        box: SecretBox,
        limiter: RateLimiter,
        *,
        cache_seconds: float = CONNECTION_CACHE_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._limiter = limiter
        self._known: TTLCache[tuple[str | None, str | None], Connection] = TTLCache(10_000, cache_seconds)
        self._rules: TTLCache[str, list[MappingRule]] = TTLCache(10_000, cache_seconds)

    def forget(self) -> None:
        """A connection or its mapping rules changed: read them from the database again."""
        self._known.clear()
        self._rules.clear()

    async def rules(self, session: AsyncSession, connection_id: str) -> list[MappingRule]:
        """The connection's mapping rules, read in the caller's session when not cached."""
        rules = self._rules.get(connection_id)
        if rules is None:
            rules = self._rules[connection_id] = await rules_of(session, connection_id)
        return rules

    async def admit(self, request: Request, body: bytes, fmt: Format) -> tuple[Connection, Any]:
        """The connection, and the payload when the transport already yielded it (JWT claims), else None."""
        try:
            return await self._admit(request, body, fmt)
        except ProblemError as refused:
            metrics.lms_refused(fmt, refused.status_code)
            raise

    async def _admit(self, request: Request, body: bytes, fmt: Format) -> tuple[Connection, Any]:
        connection, payload = await self._authenticate(request, body)
        if fmt not in FORMATS[connection.source_kind]:
            raise ProblemError(
                403, "Format not allowed", f"Connection {connection.id} ({connection.source_kind}) may not send {fmt}."
            )
        wait = self._limiter.retry_after(connection.id, connection.rate_per_second, connection.burst)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ProblemError(
                429,
                "Too Many Requests",
                f"Connection {connection.id} may send {connection.rate_per_second:g} requests per second"
                f" (bursts of {connection.burst}); retry in {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )
        return connection, payload

    async def lookup(self, key: str | None, named: str | None) -> Connection | None:
        """The connection the presented key (or, for a signing connection, the name) designates, if any."""
        cache_key = (key_hash(key) if key else None, named or None)
        known = self._known.get(cache_key)
        if known is not None:
            return known
        async with self._sessions() as session:
            row = await by_api_key(session, key) if key else None
            if named and (row is None or row.id != named):
                row = await session.get(LmsConnection, named)
                if row is not None and AuthMethod(row.auth_method) is AuthMethod.API_KEY:
                    row = None  # naming an API-key connection is not enough: its key must be presented
        if row is None:
            return None
        connection = self._known[cache_key] = open_connection(row, self._box)
        return connection

    async def _authenticate(self, request: Request, body: bytes) -> tuple[Connection, Any]:
        named = request.headers.get(CONNECTION_HEADER) or request.query_params.get("connection")
        connection = await self.lookup(_api_key(request), named)
        if connection is None or not connection.enabled:
            raise _unauthorized(
                "Present the LMS connection's API key (Bearer, X-API-Key or Basic), or name a"
                " signing connection in X-Credstream-Connection."
            )
        try:
            if connection.auth_method is AuthMethod.HMAC:
                assert connection.hmac_secret is not None
                verify_signature(connection.hmac_secret, body, request.headers.get(SIGNATURE_HEADER))
            elif connection.auth_method is AuthMethod.JWT:
                assert connection.jwt is not None
                return connection, _checked_claims(connection.jwt.claims(body))
        except AuthenticationError as error:
            raise _unauthorized(str(error)) from None
        except RecursionError:  # PyJWT decodes the (verified) claims with json.loads, unbounded
            raise ProblemError(400, "Malformed JSON", "The JWT's claims are nested too deeply.") from None
        return connection, None


def _checked_claims(claims: Any) -> Any:
    """The claims of a verified JWT, held to the same limits as a JSON body (depth, valid Unicode)."""
    try:
        check_untrusted(claims)
    except UntrustedJsonError as error:
        title = "Malformed JSON" if error.status == 400 else "Invalid number"
        raise ProblemError(error.status, title, f"The JWT's claims are not acceptable JSON: {error}.") from None
    return claims


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer, Basic realm="credstream"'})


def _api_key(request: Request) -> str | None:
    """Bearer / X-API-Key, or the password of HTTP Basic auth (xAPI LRS clients send key:secret that way)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or user or None
    return bearer_token(request)


Recorder = Callable[[Connection, list[Item]], Awaitable[list[ItemResult]]]


def install_lms_routes(app: FastAPI, gate: LmsGate, sessions: SessionFactory, wake: Callable[[], None]) -> None:
    """Register the format endpoints on the enrollment app."""

    async def record(connection: Connection, items: list[Item], fmt: Format) -> list[ItemResult]:
        for _attempt in range(3):
            try:
                async with transaction(sessions) as session:
                    rules = await gate.rules(session, connection.id)
                    results = await ingest(session, connection, items, rules=rules)
                break
            except InvalidActivity as error:  # the transaction rolled back: nothing of the batch is stored
                raise invalid(FormatError(error.pointer, error.detail), fmt) from None
            except IntegrityError:
                continue  # a concurrent request stored the same event first: the retry sees it as a duplicate
        else:
            raise ProblemError(409, "Conflict", "The same events are being stored concurrently; retry.")
        wake()
        metrics.lms_items(fmt, (result.status for result in results))
        return results

    async def receive(request: Request, fmt: Format, *, lineitem: str | None = None) -> tuple[Connection, list[Item]]:
        body = await request.body()
        connection, payload = await gate.admit(request, body, fmt)
        if payload is None:
            payload = decode_json(body)
        try:
            items = parse(fmt, payload, received_at=datetime.now(UTC), lineitem=lineitem)
        except FormatError as error:
            raise invalid(error, fmt) from None
        if len(items) > MAX_ITEMS:
            raise ProblemError(413, "Batch too large", f"Send at most {MAX_ITEMS} statements or events per request.")
        return connection, items

    @app.post("/caliper", status_code=202, response_model=Receipt, tags=["lms"])
    async def post_caliper(request: Request) -> Response:
        """IMS Caliper 1.1: an envelope `{sensor, sendTime, dataVersion, data[]}` or a bare event (Canvas Live
        Events in Caliper format, optionally JWT-signed)."""
        connection, items = await receive(request, Format.CALIPER)
        return receipt(await record(connection, items, Format.CALIPER))

    @app.post("/canvas/live-events", status_code=202, response_model=Receipt, tags=["lms"])
    async def post_canvas(request: Request) -> Response:
        """Canvas Live Events in Canvas format: `{metadata, body}` (optionally JWT-signed)."""
        connection, items = await receive(request, Format.CANVAS)
        return receipt(await record(connection, items, Format.CANVAS))

    @app.post("/lti/ags/{lineitem:path}/scores", status_code=202, response_model=Receipt, tags=["lms"])
    async def post_ags_score(lineitem: str, request: Request) -> Response:
        """LTI Advantage AGS: one Score (`application/vnd.ims.lis.v1.score+json`) for the line item in the path."""
        content_type = media_type(request.headers.get("content-type"))
        if content_type not in (lti_ags.CONTENT_TYPE, "application/json", "application/jwt"):
            raise ProblemError(415, "Unsupported Media Type", f"Send the Score as {lti_ags.CONTENT_TYPE}.")
        connection, items = await receive(request, Format.LTI_AGS, lineitem=lineitem)
        return receipt(await record(connection, items, Format.LTI_AGS))

    @app.get("/xapi/about", tags=["lms"])
    async def xapi_about() -> dict[str, Any]:
        """xAPI About resource: the versions this LRS endpoint accepts."""
        return {"version": list(xapi.SUPPORTED_VERSIONS)}

    @app.post("/xapi/statements", tags=["lms"], response_model=list[str])
    async def post_statements(request: Request, response: Response) -> list[str]:
        """xAPI POST Statements: one statement or an array, as an LRS receives them. Answers 200 with the statement
        ids in order (ids are derived for statements without one), as the xAPI spec requires of an LRS."""
        _xapi_headers(request, response)
        connection, items = await receive(request, Format.XAPI)
        results = await record(connection, items, Format.XAPI)
        _xapi_counts(response, results)
        return [item.event_id for item in items if item.event_id]

    @app.put("/xapi/statements", status_code=204, tags=["lms"])
    async def put_statement(
        request: Request, statement_id: str | None = Query(default=None, alias="statementId")
    ) -> Response:
        """xAPI PUT Statements: one statement under the id given in `statementId` (required)."""
        response = Response(status_code=204)
        _xapi_headers(request, response)
        body = await request.body()
        connection, payload = await gate.admit(request, body, Format.XAPI)
        if not statement_id:  # checked after the credentials, like the body
            raise ProblemError(400, "Missing statementId", "PUT /xapi/statements needs the statementId parameter.")
        statement = decode_json(body) if payload is None else payload
        if not isinstance(statement, dict):
            raise invalid(FormatError("", "PUT takes a single statement object"), Format.XAPI)
        if statement.get("id") not in (None, statement_id):
            raise invalid(FormatError("/id", "differs from the statementId parameter"), Format.XAPI)
        try:
            items = parse(Format.XAPI, {**statement, "id": statement_id}, received_at=datetime.now(UTC))
        except FormatError as error:
            raise invalid(error, Format.XAPI) from None
        _xapi_counts(response, await record(connection, items, Format.XAPI))
        return response


def _xapi_headers(request: Request, response: Response) -> None:
    try:
        xapi.check_version(request.headers.get("x-experience-api-version"))
    except FormatError as error:
        raise ProblemError(
            400, "Unsupported xAPI version", error.detail, headers={"X-Experience-API-Version": XAPI_VERSION}
        ) from None
    response.headers["X-Experience-API-Version"] = XAPI_VERSION


def _xapi_counts(response: Response, results: list[ItemResult]) -> None:
    """An LRS answers with ids only; what credstream made of them travels in headers."""
    response.headers["X-Credstream-Accepted"] = str(sum(r.status is Recorded.ACCEPTED for r in results))
    response.headers["X-Credstream-Unmapped"] = str(sum(r.status is Recorded.UNMAPPED for r in results))
    response.headers["X-Credstream-Ignored"] = str(sum(r.status is Recorded.IGNORED for r in results))
