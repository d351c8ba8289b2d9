"""The issuer's OpenID4VCI HTTP routes: the admin API that makes credential offers, the two metadata documents,
the offer by reference (and its QR code), and the token, nonce and credential endpoints.

Protocol refusals are OAuth error objects (`{"error", "error_description"}`) with the status the specifications
give; the admin API and the offer pages answer problem details like the rest of the service.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.status_lists import StatusLists
from services.issuer.credential_offers import (
    DEFAULT_OFFER_TTL,
    MISSING_TOKEN,
    AccessToken,
    bound_offer,
    create_offer,
    issue,
    new_nonce,
    open_offer,
    redeem,
)
from services.issuer.handlers import Issuers
from services.issuer.oid4vci import (
    TX_CODE_LENGTHS,
    OAuthError,
    authorization_server_metadata,
    credential_offer,
    issuer_metadata,
    offer_link_by_reference,
    offer_uri,
    parse_credential_request,
    parse_token_request,
    qr_code,
)
from services.issuer.wallet import ClaimRefused
from shared.db.engine import SessionFactory
from shared.http import ProblemError
from shared.untrusted_json import UntrustedJsonError, loads_untrusted

T = TypeVar("T")
InTransaction = Callable[[SessionFactory, Callable[[AsyncSession], Awaitable[T]]], Awaitable[T]]
NO_STORE = {"Cache-Control": "no-store"}
_QR_MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


class OfferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_in_seconds: int = Field(
        default=int(DEFAULT_OFFER_TTL.total_seconds()),
        ge=60,
        le=30 * 24 * 3600,
        description="How long the pre-authorized code can be redeemed (default 1 day).",
    )
    tx_code: bool = Field(default=False, description="Protect the offer with a numeric PIN, returned once.")
    tx_code_length: int = Field(default=6, ge=TX_CODE_LENGTHS.start, le=TX_CODE_LENGTHS.stop - 1)


def oauth_error(error: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.status == 401:
        # RFC 6750 §3.1: a request without a token is told only the scheme.
        missing = error.error == "invalid_token" and str(error) == MISSING_TOKEN
        headers["WWW-Authenticate"] = "Bearer" if missing else f'Bearer error="{error.error}"'
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def add_oid4vci_routes(
    app: FastAPI,
    *,
    sessions: SessionFactory,
    issuers: Issuers,
    status_lists: StatusLists,
    issuer_url: str,
    admin: Depends,
    in_transaction: InTransaction[Any],
    public_cache: str,
) -> None:
    @app.post("/v1/awards/{award_id}/credential-offers", tags=["admin"], status_code=201)
    async def create_credential_offer(
        award_id: str, _admin: Annotated[None, admin], body: OfferRequest | None = None
    ) -> dict[str, Any]:
        """An OpenID4VCI credential offer for an award (pre-authorized code flow): the offer by value and by
        reference (`openid-credential-offer://` links), QR code URLs, and the PIN (`tx_code`) if asked for —
        shown only in this answer."""
        options = body or OfferRequest()
        try:
            found = uuid.UUID(award_id)
            created = await in_transaction(
                sessions,
                lambda session: create_offer(
                    session,
                    issuer_url,
                    found,
                    timedelta(seconds=options.expires_in_seconds),
                    options.tx_code_length if options.tx_code else None,
                ),
            )
        except ClaimRefused as error:  # a ValueError too: first
            raise ProblemError(error.status, error.title, str(error), code=error.code) from error
        except (ValueError, LookupError) as error:
            raise ProblemError(404, "Not Found", f"No credential was issued for award {award_id!r}.") from error
        return created.public()

    @app.get("/.well-known/openid-credential-issuer", tags=["public"])
    async def credential_issuer_metadata() -> JSONResponse:
        """Credential Issuer Metadata (OpenID4VCI 1.0 §12.2): one `ldp_vc` OpenBadgeCredential configuration."""
        return JSONResponse(issuer_metadata(issuer_url), headers={"Cache-Control": public_cache})

    @app.get("/.well-known/oauth-authorization-server", tags=["public"])
    async def oauth_metadata() -> JSONResponse:
        """Authorization Server Metadata (RFC 8414): the token endpoint of the pre-authorized code grant."""
        return JSONResponse(authorization_server_metadata(issuer_url), headers={"Cache-Control": public_cache})

    # An identifier with a path has its well-known documents at /.well-known/<name>/<path> (OID4VCI §12.2.2,
    # RFC 8414 §3): served there too.
    issuer_path = urlsplit(issuer_url).path.strip("/")
    if issuer_path:
        for name, document in (
            ("openid-credential-issuer", credential_issuer_metadata),
            ("oauth-authorization-server", oauth_metadata),
        ):
            app.add_api_route(f"/.well-known/{name}/{issuer_path}", document, methods=["GET"], tags=["public"])

    async def opened(code: str) -> int | None:
        try:
            async with sessions() as session:
                return (await open_offer(session, code)).tx_code_length
        except ClaimRefused as error:
            raise ProblemError(error.status, error.title, str(error), code=error.code) from error

    @app.get("/oid4vci/offers/{code}", tags=["public"])
    async def offer_by_reference(code: str) -> JSONResponse:
        """The Credential Offer a `credential_offer_uri` names, while its code can be redeemed."""
        length = await opened(code)
        return JSONResponse(credential_offer(issuer_url, code, length), headers=NO_STORE)

    @app.get("/oid4vci/offers/{code}/qr.{kind}", tags=["public"])
    async def offer_qr_code(code: str, kind: str) -> Response:
        """A QR code (`svg` or `png`) of the offer's `openid-credential-offer://?credential_offer_uri=…` link."""
        if kind not in _QR_MEDIA_TYPES:
            raise ProblemError(404, "Not Found", "QR codes are served as qr.svg or qr.png.")
        await opened(code)
        image = qr_code(offer_link_by_reference(offer_uri(issuer_url, code)), kind)
        return Response(image, media_type=_QR_MEDIA_TYPES[kind], headers=NO_STORE)

    @app.post("/oid4vci/token", tags=["public"])
    async def token(request: Request) -> JSONResponse:
        """Token endpoint: `grant_type=urn:ietf:params:oauth:grant-type:pre-authorized_code` with the offer's
        `pre-authorized_code` (and `tx_code`) answers a short-lived Bearer access token, once per code."""
        try:
            parsed = parse_token_request(await request.body(), request.headers.get("content-type"))
        except OAuthError as error:
            return oauth_error(error)
        result: AccessToken | OAuthError = await in_transaction(sessions, lambda session: redeem(session, parsed))
        if isinstance(result, OAuthError):
            return oauth_error(result)
        return JSONResponse(result.public(), headers=NO_STORE)

    @app.post("/oid4vci/nonce", tags=["public"])
    async def nonce() -> JSONResponse:
        """Nonce endpoint: a fresh single-use `c_nonce` for a key proof."""
        value = await in_transaction(sessions, new_nonce)
        return JSONResponse({"c_nonce": value}, headers=NO_STORE)

    @app.post("/oid4vci/credential", tags=["public"])
    async def credential(request: Request) -> JSONResponse:
        """Credential endpoint: with the Bearer access token and a `jwt` key proof over a `c_nonce`, answers the
        award's credential bound to the proof's key (did:key, or did:jwk for a `jwk`) as `ldp_vc`."""
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        access_token = presented.strip() if scheme.lower() == "bearer" else None
        try:
            async with sessions() as session:
                offer = await bound_offer(session, access_token)
            try:
                body = loads_untrusted(await request.body())
            except UntrustedJsonError as error:
                raise OAuthError("invalid_credential_request", f"The body is not acceptable JSON: {error}.") from error
            parsed = parse_credential_request(body)
        except OAuthError as error:
            return oauth_error(error)
        result = await in_transaction(
            sessions, lambda session: issue(session, issuers, status_lists, offer, parsed, issuer_url)
        )
        if isinstance(result, OAuthError):
            return oauth_error(result)
        return JSONResponse(result, headers=NO_STORE)
