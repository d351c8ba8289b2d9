"""HTTP edges shared by the services: RFC 9457 problem details, bearer auth, body limits, health probes."""

import hmac
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.contracts.text import find_control_character
from shared.db.errors import DatabaseUnavailable, is_outage
from shared.metrics import install_metrics
from shared.tracing import instrument_app
from shared.untrusted_json import UntrustedJsonError, loads_untrusted

PROBLEM_JSON = "application/problem+json"
# What a client is told to wait while the database is unavailable (a PostgreSQL restart recovers in seconds).
OUTAGE_RETRY_AFTER_SECONDS = 5
ReadinessCheck = Callable[[], Awaitable[None]]


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class ProblemError(HTTPException):
    """Raise from a route to answer with problem details; `extra` becomes extension members."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.title = title
        self.extra = extra


def _pointer(location: tuple[Any, ...]) -> str:
    """A JSON pointer into the body; pydantic's union-member tags (`list[...]`, `function-after[...]`) are not
    part of the document, so they are left out."""
    parts = [str(p) for p in location if p != "body" and not (isinstance(p, str) and "[" in p)]
    return "/" + "/".join(parts)


def _validation_errors(error: RequestValidationError) -> list[dict[str, str]]:
    errors = error.errors()
    # A body that may be one item or a list fails both ways; report the way that matches what was sent.
    specific = [
        e
        for e in errors
        if any(isinstance(p, int) or (isinstance(p, str) and "[" not in p and p != "body") for p in e["loc"])
    ]
    return [{"pointer": _pointer(tuple(item["loc"])), "detail": item["msg"]} for item in (specific or errors)[:50]]


def install_problem_details(app: FastAPI) -> None:
    """Every error answers `application/problem+json` (RFC 9457), never an HTML page or a stack trace."""

    @app.exception_handler(ProblemError)
    async def _problem(_request: Request, error: ProblemError) -> JSONResponse:
        response = problem(error.status_code, error.title, error.detail, **error.extra)
        response.headers.update(error.headers or {})
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, _title(error.status_code), str(error.detail) if error.detail else None)

    async def _outage(_request: Request, error: Exception) -> JSONResponse:
        if not is_outage(error):
            raise error  # a defect, not an outage: the server's usual 500
        response = problem(
            503,
            "Service Unavailable",
            "The service's database is unavailable right now; send the request again after Retry-After seconds.",
            code="database.unavailable",
        )
        response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_SECONDS)
        return response

    # An LMS that takes a 500 as permanent would drop its events; a 503 + Retry-After tells it to send them again.
    for outage_type in (DatabaseUnavailable, DBAPIError, PoolTimeout, OSError):
        app.add_exception_handler(outage_type, _outage)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            return problem(400, "Malformed JSON", "The body is not JSON.")
        return problem(
            422,
            "Invalid request body",
            "The body does not match the schema.",
            errors=_validation_errors(error),
        )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.headers.get("x-api-key")


def require_admin(expected: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency that accepts only the admin bearer token (constant-time comparison)."""

    async def check(request: Request) -> None:
        token = bearer_token(request)
        if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
            raise ProblemError(401, "Unauthorized", "A valid admin bearer token is required.")

    check.checks_credentials = True  # type: ignore[attr-defined]
    return check


def decode_json_body(body: bytes) -> Any:
    """A request body as strict JSON (see shared.untrusted_json), or 400 problem details saying why not."""
    try:
        return loads_untrusted(body)
    except UntrustedJsonError as error:
        title = "Malformed JSON" if error.status == 400 else "Invalid number"
        raise ProblemError(error.status, title, f"The body is not acceptable JSON: {error}.") from None


class _UntrustedJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = decode_json_body(await self.body())
        return self._json


class CredentialsFirstRoute(APIRoute):
    """Routes that check credentials before they look at the body (401 before 400/422: an anonymous caller
    learns nothing about the schema), and parse JSON bodies strictly (400 for NaN, deep nesting, lone surrogates).
    FastAPI would parse and validate the body first and run the credential dependency afterwards."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handle = super().get_route_handler()
        checks = [d.call for d in self.dependant.dependencies if getattr(d.call, "checks_credentials", False)]

        async def route(request: Request) -> Response:
            request = _UntrustedJsonRequest(request.scope, request.receive)
            for check in checks:
                await check(request)  # type: ignore[misc]
            return await handle(request)

        return route


def limit_body_size(app: FastAPI, max_bytes: int) -> None:
    """Reject bodies over `max_bytes` with 413 before reading them into memory.

    A declared Content-Length is checked up front; a chunked body (no Content-Length) is counted as it streams in
    and the request fails with 413 as soon as it passes the limit, before the handler sees any of it.
    """
    app.add_middleware(_StreamedBodyLimit, max_bytes=max_bytes)


class _StreamedBodyLimit:
    """ASGI middleware counting body bytes as they arrive. Past the limit it answers 413 itself and tells the app
    the client went away (an exception raised into the app would surface as a 400 or a 500 instead).

    Pure ASGI, like the other middleware here: Starlette's BaseHTTPMiddleware runs every request through a task
    group and memory streams, which cost more per request than the checks themselves."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            detail = f"The body may hold at most {self.max_bytes} bytes."
            await problem(413, "Content Too Large", detail, code="request.too_large")(scope, receive, send)
            return
        received = 0
        rejected = False
        started = False

        async def counted_receive() -> Any:
            nonlocal received, rejected
            if rejected:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    rejected = True
                    if not started:
                        detail = f"The body may hold at most {self.max_bytes} bytes."
                        await problem(413, "Content Too Large", detail, code="request.too_large")(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if rejected:
                return  # the 413 went out; what the app answers to the "disconnected" client is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not rejected:
                raise


def refuse_control_characters_in_urls(app: FastAPI) -> None:
    """400 for a path or query parameter holding a control character (e.g. %00): no id, in any service, has one,
    and the database would fail on a NUL instead of answering "not found"."""
    app.add_middleware(_ControlCharacterGuard)


class _ControlCharacterGuard:
    """ASGI middleware behind `refuse_control_characters_in_urls`."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = QueryParams(scope["query_string"]) if scope.get("query_string") else QueryParams()
            for part in (scope["path"], *query.keys(), *query.values()):
                reason = find_control_character(part, allow_whitespace=False)
                if reason:
                    response = problem(400, "Bad Request", f"The URL {reason}.", code="request.control_character")
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def install_health(app: FastAPI, readiness: list[ReadinessCheck]) -> None:
    """`/healthz`: the process answers. `/readyz`: its database and broker answer too."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        for check in readiness:
            try:
                await check()
            except Exception as error:
                return problem(503, "Not ready", f"{check.__name__}: {type(error).__name__}")
        return JSONResponse({"status": "ready"})


def create_app(title: str, *, max_body_bytes: int, readiness: list[ReadinessCheck]) -> FastAPI:
    app = FastAPI(title=title, version="0.1.0")
    app.router.route_class = CredentialsFirstRoute
    install_problem_details(app)
    limit_body_size(app, max_body_bytes)
    refuse_control_characters_in_urls(app)
    install_health(app, readiness)
    install_metrics(app, readiness)  # last: outermost, so it sees every answer
    instrument_app(app)  # a span per request when tracing is on
    return app
