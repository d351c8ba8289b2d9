"""HTTP routes for people: the badge page (content-negotiated with the JSON credential), the badge image and the
downloads (credential JSON, baked PNG, baked SVG)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from shared.credentials.baking import BakingError, bake_png, bake_svg
from shared.credentials.verification import VerificationReport
from shared.http import ProblemError
from shared.ids import parse_credential_uuid

from .badge_image import BadgeArt, BadgeImages, badge_images, generated_svg
from .negotiation import HTML, OFFERED, VC_JSON, negotiate, offered_for
from .render import content_security_policy, render_badge_page, render_not_found
from .view import CopyNote, WalletCopy, achievement_of, build_view, issuer_of, title_of

CredentialLoader = Callable[[str], Awaitable[dict[str, Any]]]
WalletCopyLoader = Callable[[str], Awaitable[WalletCopy | None]]
Verify = Callable[[dict[str, Any]], Awaitable[VerificationReport]]

_SVG_MEDIA_TYPE = "image/svg+xml"
# An SVG may come from the issuer (a data: URI in the credential): opened on its own it may run nothing.
_IMAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=86400",
}
_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")[:60] or "badge"


def _art(credential: dict[str, Any]) -> BadgeArt:
    achievement = achievement_of(credential)
    return BadgeArt(
        key=str(achievement.get("id") or credential.get("id") or ""),
        title=title_of(credential),
        issuer=issuer_of(credential)[0],
    )


def credential_images(credential: dict[str, Any]) -> BadgeImages:
    achievement = achievement_of(credential)
    return badge_images(_art(credential), [achievement.get("image"), credential.get("image")])


def _credential_text(credential: dict[str, Any]) -> str:
    # Compact UTF-8 JSON: the proof covers the data, not the whitespace.
    return json.dumps(credential, ensure_ascii=False, separators=(",", ":"))


def _baked_svg(credential: dict[str, Any]) -> bytes:
    images = credential_images(credential)
    try:
        svg = bake_svg(images.svg.decode("utf-8"), _credential_text(credential))
    except (BakingError, UnicodeDecodeError):
        # The issuer's own SVG may already carry a credential (or not be UTF-8): bake into our medal instead.
        svg = bake_svg(generated_svg(_art(credential)).decode("utf-8"), _credential_text(credential))
    return svg.encode("utf-8")


def _download(body: bytes, media_type: str, filename: str) -> Response:
    headers = {**_IMAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


def install_badge_pages(
    app: FastAPI,
    *,
    load: CredentialLoader,
    verify: Verify,
    public_base_url: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wallet_copy: WalletCopyLoader | None = None,
) -> None:
    """Add ``GET /credentials/{id}`` (HTML or JSON by ``Accept``), ``…/image.{svg,png}`` and
    ``…/download.{json,png,svg}`` to ``app``. ``load`` raises :class:`ProblemError` 404 for unknown ids;
    ``wallet_copy`` says whether a credential is a wallet's holder-bound copy of an award's credential."""
    base = public_base_url.rstrip("/")

    async def copy_note(credential_id: str) -> CopyNote | None:
        copy = await wallet_copy(credential_id) if wallet_copy is not None else None
        if copy is None:
            return None
        award = parse_credential_uuid(copy.award_credential_id)
        # Relative to the page, as its other links are.
        return CopyNote(award_url=str(award), award_credential_id=copy.award_credential_id, holder=copy.holder)

    def names(credential_id: str, credential: dict[str, Any]) -> tuple[str, str]:
        """(canonical path id, download file stem)."""
        found = parse_credential_uuid(credential_id)
        key = str(found) if found is not None else credential_id
        return key, f"{_slug(title_of(credential))}-{key[:8]}"

    @app.get(
        "/credentials/{credential_id}",
        tags=["public"],
        responses={200: {"content": {VC_JSON: {}, "application/json": {}, HTML: {}}}, 406: {}},
    )
    async def credential_page(credential_id: str, request: Request) -> Response:
        """The signed credential as issued (JSON, the default), or its badge page for `Accept: text/html`."""
        chosen = negotiate(request.headers.get("accept"), offered_for(request.headers.get("user-agent")))
        if chosen is None:
            raise ProblemError(
                406, "Not Acceptable", f"This resource is available as {', '.join(OFFERED)}.", available=list(OFFERED)
            )
        try:
            credential = await load(credential_id)
        except ProblemError as error:
            if chosen == HTML and error.status_code == 404:
                return HTMLResponse(
                    render_not_found(credential_id),
                    status_code=404,
                    headers={"Content-Security-Policy": content_security_policy(), "Vary": "Accept"},
                )
            raise
        note = await copy_note(credential_id)
        if chosen != HTML:
            headers = {"Vary": "Accept"}
            if note is not None:
                # The signed credential cannot say it; the response can: this is a copy of that award's credential.
                headers["Link"] = f'<{base}/credentials/{note.award_url}>; rel="related"; title="award credential"'
                headers["Credstream-Award-Credential"] = note.award_credential_id
            return JSONResponse(credential, media_type=chosen, headers=headers)
        key, _stem = names(credential_id, credential)
        checked_at = clock()
        report = await verify(credential)
        view = build_view(
            credential,
            report,
            page_url=f"{base}/credentials/{key}",
            # Relative to the page, so the page works behind any host name or path prefix.
            image_url=f"{key}/image.svg",
            og_image_url=f"{base}/credentials/{key}/image.png",
            downloads={ext: f"{key}/download.{ext}" for ext in ("json", "png", "svg")},
            verification_url=f"{key}/verification",
            checked_at=checked_at,
        )
        view.wallet_copy = note
        return HTMLResponse(
            render_badge_page(view),
            headers={
                "Content-Security-Policy": content_security_policy(),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                # The status is computed now: a cached page could hide a revocation.
                "Cache-Control": "no-cache",
                "Vary": "Accept",
            },
        )

    @app.get("/credentials/{credential_id}/image.svg", tags=["public"], response_class=Response)
    async def badge_svg(credential_id: str) -> Response:
        """The badge image (SVG) shown on the page."""
        credential = await load(credential_id)
        return Response(credential_images(credential).svg, media_type=_SVG_MEDIA_TYPE, headers=_IMAGE_HEADERS)

    @app.get("/credentials/{credential_id}/image.png", tags=["public"], response_class=Response)
    async def badge_png(credential_id: str) -> Response:
        """The badge image (PNG) for link previews (og:image)."""
        credential = await load(credential_id)
        png = await run_in_threadpool(lambda: credential_images(credential).png)
        return Response(png, media_type="image/png", headers=_IMAGE_HEADERS)

    @app.get("/credentials/{credential_id}/download.json", tags=["public"], response_class=Response)
    async def download_json(credential_id: str) -> Response:
        """The signed credential as a file, for wallets and `credstream verify`."""
        credential = await load(credential_id)
        body = (json.dumps(credential, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        return _download(body, VC_JSON, f"{names(credential_id, credential)[1]}.json")

    @app.get("/credentials/{credential_id}/download.png", tags=["public"], response_class=Response)
    async def download_png(credential_id: str) -> Response:
        """The badge as a PNG with the signed credential baked in (iTXt `openbadgecredential`)."""
        credential = await load(credential_id)
        body = await run_in_threadpool(
            lambda: bake_png(credential_images(credential).png, _credential_text(credential))
        )
        return _download(body, "image/png", f"{names(credential_id, credential)[1]}.png")

    @app.get("/credentials/{credential_id}/download.svg", tags=["public"], response_class=Response)
    async def download_svg(credential_id: str) -> Response:
        """The badge as an SVG with the signed credential baked in (`<openbadges:credential>`)."""
        credential = await load(credential_id)
        body = await run_in_threadpool(lambda: _baked_svg(credential))
        return _download(body, _SVG_MEDIA_TYPE, f"{names(credential_id, credential)[1]}.svg")
