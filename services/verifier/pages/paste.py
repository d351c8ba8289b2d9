"""The verify page: an employer pastes anyone's credential (JSON or VC-JWT) into a form (``GET /verify``), or
uploads it as a file (JSON, VC-JWT, baked PNG/SVG), and sees it as a badge page with every check (``POST /verify``
as a form). No scripts, the same strict CSP as the badge page (forms may post to this origin only); nothing
submitted is stored. The body limit is the API's."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from services.verifier.verification import read_body
from shared.credentials.baking import baked_media_type
from shared.credentials.vcjwt import VcJwt
from shared.credentials.verification import VerificationReport
from shared.http import ProblemError

from .render import content_security_policy, render_badge_page, render_verify_form
from .routes import credential_images
from .view import build_view

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
FIELD = "credential"
FILE_FIELD = "file"
VerifyAny = Callable[[dict[str, Any] | VcJwt], Awaitable[VerificationReport]]
Parse = Callable[[bytes, str | None, int], dict[str, Any] | VcJwt]


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def is_form(content_type: str | None) -> bool:
    return _media_type(content_type) in (URLENCODED, MULTIPART)


@dataclass(frozen=True)
class Submission:
    """What the form sent: the text pasted into the box and the bytes of an uploaded file (either may be empty)."""

    text: str = ""
    upload: bytes = b""


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


def _malformed(error: Exception | str) -> ProblemError:
    return ProblemError(400, "Malformed form", f"The form could not be read: {error}", code="request.invalid")


async def read_submission(request: Request, max_bytes: int) -> Submission:
    """The form's fields (URL-encoded: the pasted text; multipart: also one file); :class:`ProblemError` when it
    cannot be read. The body is bounded by the app's limit before it gets here."""
    if _media_type(request.headers.get("content-type")) == URLENCODED:
        body = await read_body(request, max_bytes)
        try:
            fields = parse_qs(body.decode("ascii"), max_num_fields=4, strict_parsing=bool(body), errors="strict")
        except (UnicodeDecodeError, ValueError) as error:
            raise _malformed(error) from error
        return Submission(text=(fields.get(FIELD) or [""])[0].strip())
    try:
        form = await request.form(max_files=1, max_fields=4, max_part_size=max_bytes)
    except HTTPException as error:  # Starlette's answer to a malformed multipart body
        raise _malformed(error.detail) from error
    text, upload = form.get(FIELD), form.get(FILE_FIELD)
    data = await upload.read(max_bytes + 1) if isinstance(upload, UploadFile) else b""
    await form.close()
    return Submission(text=text.strip() if isinstance(text, str) else "", upload=data)


def submitted_credential(submission: Submission, parse: Parse, max_bytes: int) -> dict[str, Any] | VcJwt:
    """The credential of the uploaded file (a baked image by its bytes), else of the pasted text."""
    if submission.upload:
        return parse(submission.upload, baked_media_type(submission.upload), max_bytes)
    if submission.text:
        return parse(submission.text.encode("utf-8"), None, max_bytes)
    message = "Paste a credential into the box, or choose a file."
    raise ProblemError(400, "Nothing to verify", message, code="request.empty")


async def answer_form(
    request: Request,
    *,
    parse: Parse,
    verify: VerifyAny,
    max_bytes: int,
    base_url: str,
    clock: Callable[[], datetime],
) -> HTMLResponse:
    """Verify the submitted credential and render it as a badge page, or the form again saying why not."""
    text = ""
    try:
        submission = await read_submission(request, max_bytes)
        text = submission.text
        credential = submitted_credential(submission, parse, max_bytes)
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
