"""The verify page: an employer pastes anyone's credential (JSON or VC-JWT) into a form (``GET /verify``) and
sees it as a badge page with every check (``POST /verify`` as a form). No scripts, the same strict CSP as the
badge page (forms may post to this origin only); nothing pasted is stored. The body limit is the API's."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from shared.credentials.vcjwt import VcJwt
from shared.credentials.verification import VerificationReport
from shared.http import ProblemError

from .render import content_security_policy, render_badge_page, render_verify_form
from .routes import credential_images
from .view import build_view

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
FIELD = "credential"
VerifyAny = Callable[[dict[str, Any] | VcJwt], Awaitable[VerificationReport]]
Parse = Callable[[bytes, str | None, int], dict[str, Any] | VcJwt]


def is_form(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == FORM_MEDIA_TYPE


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={
            "Content-Security-Policy": content_security_policy("'self'"),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",  # a pasted credential is nobody else's business
        },
    )


def form_page(text: str = "", error: tuple[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    """The form, with the pasted text and the reason it could not be verified (``error``), if any."""
    return _html(render_verify_form(text=text, error=error), status_code)


def pasted_text(body: bytes) -> str:
    """The ``credential`` field of a URL-encoded form body; raises :class:`ProblemError` 400 when malformed."""
    try:
        fields = parse_qs(body.decode("ascii"), max_num_fields=4, strict_parsing=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as error:
        message = f"The form could not be read: {error}"
        raise ProblemError(400, "Malformed form", message, code="request.invalid") from error
    values = fields.get(FIELD, [])
    if len(values) != 1 or not values[0].strip():
        raise ProblemError(400, "Nothing to verify", "Paste a credential into the box.", code="request.empty")
    return values[0].strip()


async def answer_form(
    body: bytes | ProblemError,
    *,
    parse: Parse,
    verify: VerifyAny,
    max_bytes: int,
    base_url: str,
    clock: Callable[[], datetime],
) -> HTMLResponse:
    """Verify the pasted credential and render it as a badge page, or the form again saying why not."""
    text = ""
    try:
        if isinstance(body, ProblemError):  # the body itself was refused (too large)
            raise body
        text = pasted_text(body)
        credential = parse(text.encode("utf-8"), None, max_bytes)
        checked_at = clock()
        report = await verify(credential)
    except ProblemError as problem:
        return form_page(text, (problem.title, str(problem.detail or "")), problem.status_code)
    claims = credential.credential if isinstance(credential, VcJwt) else credential
    svg = await run_in_threadpool(lambda: credential_images(claims).svg)
    view = build_view(
        claims,
        report,
        page_url=f"{base_url.rstrip('/')}/verify",
        image_url=f"data:image/svg+xml;base64,{base64.b64encode(svg).decode('ascii')}",
        og_image_url="",
        downloads={},
        verification_url="",
        checked_at=checked_at,
        verify_form_url="verify",
    )
    return _html(render_badge_page(view))
