"""Issuer service: signs an Open Badges 3.0 credential for every assessment-passed event."""

import json
from typing import Annotated, Any

from fastapi import Depends
from fastapi.responses import JSONResponse

from services.issuer.adapters.keystore import KeyEncryption, KeyStore
from services.issuer.adapters.tables import IssuedCredential, IssuerOutbox, IssuerProcessedEvent
from services.issuer.handlers import IssueCredential
from services.runtime import ServiceParts, Wiring
from shared.contracts import AssessmentPassed, Topic
from shared.db.outbox import OutboxRelay
from shared.http import ProblemError, create_app, require_admin
from shared.ids import parse_credential_uuid
from shared.messaging.consumer import EventConsumer

NAME = "issuer"


def build(wiring: Wiring) -> ServiceParts:
    settings, sessions = wiring.settings, wiring.sessions
    relay = OutboxRelay(sessions, IssuerOutbox, wiring.publisher)
    keys = KeyStore(KeyEncryption(settings.key_encryption_key.get_secret_value()))
    app = create_app("credstream issuer", max_body_bytes=settings.max_body_bytes, readiness=wiring.readiness)
    admin = Depends(require_admin(settings.admin_token.get_secret_value()))

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
        return JSONResponse(json.loads(row.credential), media_type="application/vc+ld+json")

    consumer = EventConsumer(
        name=NAME,
        topic=Topic.ASSESSMENT_PASSED,
        contract=AssessmentPassed,
        handler=IssueCredential(settings, keys),
        sessions=sessions,
        processed_table=IssuerProcessedEvent,
        after_commit=relay.wake,
    )
    return ServiceParts(name=NAME, http=app, consumers=[consumer], relay=relay)
