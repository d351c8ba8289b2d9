"""Issuer use case: one signed credential per award, stored and announced in one transaction."""

import asyncio
import json
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.issuer.adapters.keystore import KeyStore
from services.issuer.adapters.tables import IssuedCredential, IssuerOutbox
from services.issuer.domain import build_credential, credential_uuid, issuer_profile
from shared.contracts import AssessmentPassed, BadgeIssued, CloudEvent
from shared.credentials.keys import did_key, did_key_verification_method
from shared.credentials.proof import sign_credential
from shared.db.outbox import stage_event
from shared.settings import Settings

SOURCE = "credstream/issuer"


class IssueCredential:
    """Consumer of `credstream.assessment-passed.v1`."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self._settings = settings
        self._keys = keys

    async def __call__(self, session: AsyncSession, passed: AssessmentPassed, _ce: CloudEvent) -> None:
        existing = await session.execute(
            select(IssuedCredential.credential_id).where(IssuedCredential.award_id == passed.award_id)
        )
        if existing.first() is not None:
            return
        key = await self._keys.active_key(session, passed.tenant_id)
        issuer_id = did_key(key)
        issued_at = datetime.now(UTC).replace(microsecond=0)
        profile = issuer_profile(issuer_id, passed.tenant_id, self._settings.issuers.get(passed.tenant_id))
        unsigned = build_credential(
            passed, issuer=profile, public_base_url=self._settings.public_base_url, issued_at=issued_at
        )
        # Canonicalisation is CPU-heavy pure Python: keep the event loop free for HTTP and heartbeats.
        signed = await asyncio.to_thread(sign_credential, unsigned, key, did_key_verification_method(key), issued_at)
        credential_id = credential_uuid(passed.award_id)
        session.add(
            IssuedCredential(
                credential_id=credential_id,
                award_id=passed.award_id,
                tenant_id=passed.tenant_id,
                learner_id=passed.learner_id,
                achievement_id=passed.achievement.id,
                issuer_id=issuer_id,
                credential=json.dumps(signed),
                issued_at=issued_at,
            )
        )
        issued = BadgeIssued(
            tenant_id=passed.tenant_id,
            learner_id=passed.learner_id,
            award_id=passed.award_id,
            achievement_id=passed.achievement.id,
            credential_id=signed["id"],
            issuer_id=issuer_id,
            issued_at=issued_at,
            credential=signed,
        )
        ce = CloudEvent(id=str(credential_id), source=SOURCE, type=BadgeIssued.CE_TYPE, subject=issued.key())
        stage_event(session, IssuerOutbox, issued, ce)
        await session.flush()
