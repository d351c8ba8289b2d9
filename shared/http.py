"""HTTP edges shared by the services: RFC 9457 problem details, bearer auth, body limits, health probes."""

import hmac
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
ReadinessCheck = Callable[[], Awaitable[None]]


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class ProblemError(HTTPException):
    """Raise from a route to answer with problem details; `extra` becomes extension members."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(status_code=status, detail=detail)
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
        return problem(error.status_code, error.title, error.detail, **error.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, _title(error.status_code), str(error.detail) if error.detail else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
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

    return check


def limit_body_size(app: FastAPI, max_bytes: int) -> None:
    """Reject bodies over `max_bytes` with 413 before reading them into memory."""

    @app.middleware("http")
    async def _limit(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            return problem(413, "Content Too Large", f"The body may hold at most {max_bytes} bytes.")
        return await call_next(request)


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
    install_problem_details(app)
    limit_body_size(app, max_body_bytes)
    install_health(app, readiness)
    return app
