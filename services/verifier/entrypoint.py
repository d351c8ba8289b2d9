"""Verifier service: public credential retrieval and verification; consumes badge-issued and badge-revoked in
batches."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.runtime import ServiceParts, Wiring
from services.verifier.adapters.tables import PublishedCredential, VerifierProcessedEvent
from services.verifier.handlers import on_badges_issued, on_badges_revoked
from services.verifier.pages.paste import answer_form, form_page, is_form
from services.verifier.pages.routes import install_badge_pages
from services.verifier.pages.view import WalletCopy
from services.verifier.pool import VerificationPool
from services.verifier.verification import (
    CredentialVerifier,
    build_fetcher,
    parse_credential,
    read_body,
    verification_limits,
)
from shared.contracts import BadgeIssued, BadgeRevoked, Topic
from shared.http import ProblemError, create_app
from shared.ids import parse_credential_uuid
from shared.messaging.batch import BatchConsumer

NAME = "verifier"


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    app = create_app("credstream verifier", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    pool = VerificationPool(verification_limits(settings))
    verifier = CredentialVerifier(
        wiring.document_fetcher or build_fetcher(settings),
        settings.insecure_hosts(),
        pool=pool,
        clock_skew=timedelta(seconds=settings.verify_clock_skew_seconds),
    )

    async def published(credential_id: str) -> PublishedCredential:
        found = parse_credential_uuid(credential_id)
        row = None
        if found is not None:
            async with sessions() as session:
                row = await session.get(PublishedCredential, found)
        if row is None:
            raise ProblemError(404, "Not Found", f"No credential {credential_id!r} is published here.")
        return row

    async def stored(credential_id: str) -> dict[str, Any]:
        return json.loads((await published(credential_id)).credential)

    async def wallet_copy(credential_id: str) -> WalletCopy | None:
        row = await published(credential_id)
        if row.award_credential_uuid is None:
            return None
        return WalletCopy(award_credential_id=f"urn:uuid:{row.award_credential_uuid}", holder=row.holder)

    # GET /credentials/{id}: the credential as JSON (default) or its badge page (Accept: text/html); downloads.
    install_badge_pages(
        app,
        load=stored,
        verify=verifier.verify,
        public_base_url=settings.public_base_url,
        wallet_copy=wallet_copy,
    )

    @app.get("/credentials/{credential_id}/verification", tags=["public"])
    async def verify_stored(credential_id: str) -> dict[str, Any]:
        """Verify a credential published here, now."""
        return (await verifier.verify(await stored(credential_id))).model_dump(mode="json")

    @app.get("/verify", tags=["public"], response_class=HTMLResponse)
    async def verify_form() -> HTMLResponse:
        """The verify page for people: paste a credential (JSON or VC-JWT), see it as a badge page."""
        return form_page()

    @app.post("/verify", tags=["public"], response_model=None)
    async def post_verify(request: Request) -> dict[str, Any] | HTMLResponse:
        """Verify any Open Badges 3.0 credential (or any VC: `open_badge` says which): the body is the credential
        (JSON), a VC-JWT, `{"verifiableCredential": credential}`, or a baked badge (image/png, image/svg+xml).
        Issuer DID/key documents, JWK Sets and status lists are fetched (https only, cached). Per-check results
        with machine-readable codes; bad input gets RFC 9457 problem details. The verify page's form
        (application/x-www-form-urlencoded or multipart/form-data: field `credential`, file `file`) gets the badge
        page (HTML) instead."""
        content_type = request.headers.get("content-type")
        if is_form(content_type):
            return await answer_form(
                request,
                parse=parse_credential,
                verify=verifier.verify,
                max_bytes=settings.max_body_bytes,
                base_url=settings.public_base_url,
                clock=lambda: datetime.now(UTC),
            )
        body = await read_body(request, settings.max_body_bytes)
        credential = parse_credential(body, content_type, settings.max_body_bytes)
        return (await verifier.verify(credential)).model_dump(mode="json")

    consumer = BatchConsumer(
        name=NAME,
        topic=Topic.BADGE_ISSUED,
        contract=BadgeIssued,
        handler=on_badges_issued,
        sessions=sessions,
        processed_table=VerifierProcessedEvent,
    )
    revocations = BatchConsumer(
        name=f"{NAME}-revocations",
        topic=Topic.BADGE_REVOKED,
        contract=BadgeRevoked,
        handler=on_badges_revoked,
        sessions=sessions,
        processed_table=VerifierProcessedEvent,
    )

    async def stop_verifying() -> None:
        verifier.close()

    return ServiceParts(
        name=NAME,
        http=app,
        consumers=[consumer, revocations],
        on_stop=[stop_verifying],
        warm_ups=[pool.warm_up],
    )
