"""Issuer service: signs an Open Badges 3.0 credential for every assessment-passed event, publishes the issuers'
DID documents and status lists, and offers the admin APIs to revoke credentials and rotate keys."""

import hashlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.keystore import KeyEncryption, KeyNotFound, KeyStore
from services.issuer.adapters.status_lists import StatusLists
from services.issuer.adapters.tables import IssuedCredential, IssuerOutbox, IssuerProcessedEvent, as_utc
from services.issuer.claim_page import headers as claim_page_headers
from services.issuer.claim_page import offer, render_claim_gone, render_claim_page
from services.issuer.did_auth import PresentationRefused
from services.issuer.handlers import (
    CredentialNotFound,
    IssueCredential,
    Issuers,
    NoStatusEntry,
    key_info,
    revoke_credential,
    revoke_key,
    rotate_key,
    tenant_did_document,
)
from services.issuer.oid4vci_routes import add_oid4vci_routes
from services.issuer.signing import shared_pool
from services.issuer.wallet import (
    DEFAULT_CLAIM_TTL,
    ClaimRefused,
    claim,
    claim_offer,
    create_claim,
    open_exchange,
    presentation_request,
)
from services.runtime import ServiceParts, Wiring
from shared.contracts import AssessmentPassed, Topic
from shared.contracts.text import Text
from shared.db.engine import SessionFactory, transaction
from shared.db.outbox import OutboxRelay
from shared.http import ProblemError, create_app, decode_json_body, require_admin
from shared.ids import parse_credential_uuid
from shared.messaging.batch import BatchConsumer
from shared.settings import DidMethod

NAME = "issuer"
VC_MEDIA_TYPE = "application/vc+ld+json"
DID_MEDIA_TYPE = "application/did+ld+json"
_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ATTEMPTS = 3
T = TypeVar("T")


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(
        min_length=1,
        max_length=500,
        description="Why the credential is revoked; published on credstream.badge-revoked.v1 (no personal data).",
    )


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_seconds: int = Field(
        default=int(DEFAULT_CLAIM_TTL.total_seconds()),
        ge=60,
        le=90 * 24 * 3600,
        description="How long the claim link can be used (default 7 days).",
    )


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    # The domain a holder's DID authentication must name: this issuer's origin.
    domain = urlsplit(settings.issuer_url()).netloc
    relay = OutboxRelay(sessions, IssuerOutbox, wiring.publisher, linger=wiring.settings.outbox_linger_ms / 1000)
    issuers = Issuers(settings, KeyStore(KeyEncryption(settings.key_encryption_key.get_secret_value())))
    status_lists = StatusLists(settings.issuer_url())
    app = create_app("credstream issuer", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    admin = Depends(require_admin(settings.admin_token.get_secret_value()))
    public_cache = f"public, max-age={settings.status_list_max_age}"

    def tenant(value: str) -> str:
        if not _TENANT.match(value):
            raise ProblemError(404, "Not Found", f"No tenant {value!r}.")
        return value

    @app.get("/v1/credentials/{credential_id}", tags=["admin"])
    async def get_issued(credential_id: str, _admin: Annotated[None, admin]) -> JSONResponse:
        """An issued credential as stored by the issuer (admin)."""
        found = parse_credential_uuid(credential_id)
        row: Any = None
        if found is not None:
            async with sessions() as session:
                row = await session.get(IssuedCredential, found)
        if row is None:
            raise ProblemError(404, "Not Found", f"No credential {credential_id!r} was issued here.")
        return JSONResponse(json.loads(row.credential), media_type=VC_MEDIA_TYPE)

    @app.post("/v1/credentials/{credential_id}/revoke", tags=["admin"])
    async def revoke(credential_id: str, body: RevokeRequest, _admin: Annotated[None, admin]) -> dict[str, Any]:
        """Revoke a credential: its status list bit is set and the list re-signed, and
        `credstream.badge-revoked.v1` is emitted, all in one transaction. Revoking again changes nothing."""
        found = parse_credential_uuid(credential_id)
        if found is None:
            raise ProblemError(404, "Not Found", f"No credential {credential_id!r} was issued here.")
        try:
            revocation = await _in_transaction(
                sessions, lambda session: revoke_credential(session, issuers, status_lists, found, body.reason)
            )
        except CredentialNotFound as error:
            raise ProblemError(404, "Not Found", f"No credential {credential_id!r} was issued here.") from error
        except NoStatusEntry as error:
            raise ProblemError(409, "Not revocable", str(error)) from error
        if not revocation.already_revoked:
            relay.wake()
        return revocation.public()

    @app.get("/v1/tenants/{tenant_id}/keys", tags=["admin"])
    async def list_keys(tenant_id: str, _admin: Annotated[None, admin]) -> dict[str, Any]:
        """The tenant's signing keys (public halves and dates), oldest first."""
        async with sessions() as session:
            rows = await issuers.keys.keys(session, tenant(tenant_id))
        return {"tenant_id": tenant_id, "keys": [key_info(issuers, row) for row in rows]}

    @app.post("/v1/tenants/{tenant_id}/keys/rotate", tags=["admin"], status_code=201)
    async def rotate(tenant_id: str, _admin: Annotated[None, admin]) -> dict[str, Any]:
        """Start signing with a new key. Earlier keys stay in the did:web DID document under assertionMethod
        (a did:key is its own document), so every badge signed before keeps verifying."""
        tenant(tenant_id)
        return await _in_transaction(sessions, lambda session: rotate_key(session, issuers, tenant_id))

    @app.post("/v1/tenants/{tenant_id}/keys/{key_id}/revoke", tags=["admin"])
    async def revoke_signing_key(tenant_id: str, key_id: str, _admin: Annotated[None, admin]) -> dict[str, Any]:
        """Revoke a retired did:web key (e.g. it leaked): it stays listed with a `revoked` time and verifiers
        reject what it signed. The active key cannot be revoked: rotate first."""
        tenant(tenant_id)
        if settings.did_method() != DidMethod.WEB:
            raise ProblemError(409, "Not revocable", "A did:key cannot be revoked; rotate to stop using it.")
        try:
            return await _in_transaction(
                sessions, lambda session: revoke_key(session, issuers, status_lists, tenant_id, key_id)
            )
        except KeyNotFound as error:
            raise ProblemError(404, "Not Found", str(error)) from error
        except ValueError as error:
            raise ProblemError(409, "Not revocable", str(error)) from error

    async def did_response(tenant_id: str | None) -> JSONResponse:
        document = None
        if tenant_id is not None:
            async with sessions() as session:
                document = await tenant_did_document(session, issuers, tenant_id)
        if document is None:
            raise ProblemError(404, "Not Found", "No did:web DID document is published here for that issuer.")
        headers = {"Cache-Control": public_cache, "Access-Control-Allow-Origin": "*"}
        return JSONResponse(document, media_type=DID_MEDIA_TYPE, headers=headers)

    @app.get("/tenants/{tenant_id}/did.json", tags=["public"])
    async def tenant_did(tenant_id: str) -> JSONResponse:
        """The DID document of `did:web:<host>:tenants:<tenant>`."""
        return await did_response(tenant(tenant_id))

    @app.get("/.well-known/did.json", tags=["public"])
    async def host_did() -> JSONResponse:
        """The DID document of `did:web:<host>`: the host tenant's (CREDSTREAM_ISSUER_HOST_TENANT)."""
        return await did_response(settings.issuer_host_tenant)

    @app.get("/status-lists/{tenant_id}/{list_id}", tags=["public"])
    async def status_list(tenant_id: str, list_id: str, request: Request) -> Response:
        """A signed BitstringStatusListCredential (W3C Bitstring Status List v1.0), cacheable: ETag,
        Last-Modified and Cache-Control max-age; `If-None-Match` / `If-Modified-Since` answer 304."""
        row = None
        if list_id.isdigit() and len(list_id) < 10:
            async with sessions() as session:
                row = await status_lists.get(session, tenant(tenant_id), int(list_id))
        if row is None:
            raise ProblemError(404, "Not Found", f"No status list {tenant_id}/{list_id}.")
        etag = '"' + hashlib.sha256(row.credential.encode()).hexdigest()[:32] + '"'
        modified = as_utc(row.updated_at).replace(microsecond=0)
        headers = {
            "ETag": etag,
            "Last-Modified": format_datetime(modified, usegmt=True),
            "Cache-Control": public_cache,
            "Access-Control-Allow-Origin": "*",
        }
        if _not_modified(request, etag, modified):
            return Response(status_code=304, headers=headers)
        return Response(row.credential, media_type=VC_MEDIA_TYPE, headers=headers)

    @app.post("/v1/awards/{award_id}/claims", tags=["admin"], status_code=201)
    async def create_claim_link(
        award_id: str, _admin: Annotated[None, admin], body: ClaimRequest | None = None
    ) -> dict[str, Any]:
        """A single-use, expiring claim link for an award: the VC-API exchange URL a wallet (e.g. the DCC
        Learner Credential Wallet) POSTs to, the deep links (`dccrequest://` and https) that open one, and
        `claim_page_url`, the page to send the learner (badge summary, "Add to wallet" button, QR code)."""
        found = _uuid(award_id)
        ttl = timedelta(seconds=(body or ClaimRequest()).expires_in_seconds)
        try:
            if found is None:
                raise LookupError(award_id)
            link = await _in_transaction(
                sessions, lambda session: create_claim(session, issuers, settings.issuer_url(), found, ttl)
            )
        except LookupError as error:
            raise ProblemError(404, "Not Found", f"No credential was issued for award {award_id!r}.") from error
        except ClaimRefused as error:
            raise ProblemError(error.status, error.title, str(error), code=error.code) from error
        return link.public()

    @app.get("/claims/{secret}", tags=["public"], response_class=HTMLResponse)
    async def claim_page(secret: str) -> HTMLResponse:
        """The learner's claim page: the badge, an "Add to wallet" button (`dccrequest://` deep link and its https
        form) and a QR code of the deep link. A used, expired or revoked claim gets a page saying so (409/410)."""
        try:
            async with sessions() as session:
                link, credential = await claim_offer(session, issuers, settings.issuer_url(), secret)
        except ClaimRefused as refused:
            return HTMLResponse(render_claim_gone(refused), status_code=refused.status, headers=claim_page_headers())
        found = parse_credential_uuid(str(credential.get("id", "")))
        badge_page = f"{settings.public_base_url.rstrip('/')}/credentials/{found}"
        return HTMLResponse(render_claim_page(offer(link, credential, badge_page)), headers=claim_page_headers())

    @app.post("/exchanges/{secret}", tags=["public"])
    async def exchange(secret: str, request: Request) -> JSONResponse:
        """The VC-API exchange of a claim link. `{}` answers a VerifiablePresentationRequest (DIDAuthentication
        with a challenge and domain); `{"verifiablePresentation": …}` signed by the holder's did:key answers a
        presentation holding the credential issued to that DID. Refusals are problem details with a `code`."""
        raw = await request.body()
        body = decode_json_body(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ProblemError(400, "Bad Request", "The body must be a JSON object.")
        headers = {"Cache-Control": "no-store"}
        try:
            if "verifiablePresentation" not in body:
                async with sessions() as session:
                    opened = await open_exchange(session, secret)
                return JSONResponse(presentation_request(opened.challenge, domain), headers=headers)
            answer = await _in_transaction(
                sessions,
                lambda session: claim(session, issuers, status_lists, secret, body["verifiablePresentation"], domain),
            )
        except ClaimRefused as error:
            raise ProblemError(error.status, error.title, str(error), code=error.code) from error
        except PresentationRefused as error:
            raise ProblemError(400, "Presentation refused", str(error), code=error.code) from error
        relay.wake()  # a new copy's badge-issued is in the outbox
        return JSONResponse(answer, headers=headers)

    add_oid4vci_routes(
        app,
        sessions=sessions,
        issuers=issuers,
        status_lists=status_lists,
        issuer_url=settings.issuer_url(),
        admin=admin,
        in_transaction=_in_transaction,
        public_cache=public_cache,
    )

    signing = shared_pool(settings.signing_processes())
    issue = IssueCredential(settings, issuers, status_lists, sessions, signing)
    consumer = BatchConsumer(
        name=NAME,
        topic=Topic.ASSESSMENT_PASSED,
        contract=AssessmentPassed,
        handler=issue.issue,
        sessions=sessions,
        processed_table=IssuerProcessedEvent,
        after_commit=relay.wake,
    )

    async def configured_issuers_have_keys() -> None:
        # Publish the DID documents of configured tenants before their first badge.
        for tenant_id in settings.issuers:
            await _in_transaction(sessions, lambda session, t=tenant_id: issuers.keys.active_key(session, t))

    async def start_signing_workers() -> None:
        signing.start()  # in the background: forked and warm before the first batch, not inside it

    return ServiceParts(
        name=NAME,
        http=app,
        consumers=[consumer],
        relay=relay,
        on_start=[configured_issuers_have_keys, start_signing_workers],
    )


async def _in_transaction(sessions: SessionFactory, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in its own transaction, retrying when a concurrent writer (another replica) won a race."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            async with transaction(sessions) as session:
                return await work(session)
        except IntegrityError:
            if attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return modified <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False
