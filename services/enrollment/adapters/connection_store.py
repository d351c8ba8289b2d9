"""Connections and mapping rules in enrollment's own tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.secrets import SecretBox
from services.enrollment.adapters.tables import LmsConnection, MappingRuleRow
from services.enrollment.connections import AuthMethod, JwtVerifier, SourceKind, key_hash
from services.enrollment.mapping import MappingRule, Match


@dataclass(frozen=True)
class Connection:
    """What a request needs to know about the connection it came through (secrets opened, rules not loaded)."""

    id: str
    tenant_id: str
    source_kind: SourceKind
    auth_method: AuthMethod
    learner_prefix: str
    rate_per_second: float
    burst: int
    enabled: bool
    hmac_secret: str | None = None
    jwt: JwtVerifier | None = None

    @property
    def source(self) -> str:
        """The `source` recorded on every event this connection sends."""
        return f"lms-connection:{self.id}"


def open_connection(row: LmsConnection, box: SecretBox | None) -> Connection:
    """The row as a Connection; with no `box` the secrets stay sealed (records on Kafka need none)."""
    method = AuthMethod(row.auth_method)
    secret = box.open(row.sealed_secret, row.id) if row.sealed_secret and box else None
    verifier = None
    if method is AuthMethod.JWT and box is not None:
        verifier = JwtVerifier(
            algorithms=tuple((row.jwt_algorithms or "").split(",")),
            public_key_pem=row.jwt_public_key,
            shared_secret=secret,
            issuer=row.jwt_issuer,
        )
    return Connection(
        id=row.id,
        tenant_id=row.tenant_id,
        source_kind=SourceKind(row.source_kind),
        auth_method=method,
        learner_prefix=row.learner_prefix,
        rate_per_second=row.rate_per_second,
        burst=row.burst,
        enabled=row.enabled,
        hmac_secret=secret if method is AuthMethod.HMAC else None,
        jwt=verifier,
    )


async def by_api_key(session: AsyncSession, api_key: str) -> LmsConnection | None:
    rows = await session.execute(select(LmsConnection).where(LmsConnection.key_hash == key_hash(api_key)))
    return rows.scalar_one_or_none()


async def list_connections(session: AsyncSession, tenant_id: str) -> list[LmsConnection]:
    rows = await session.execute(
        select(LmsConnection).where(LmsConnection.tenant_id == tenant_id).order_by(LmsConnection.created_at)
    )
    return list(rows.scalars())


async def disable(session: AsyncSession, row: LmsConnection) -> None:
    if row.enabled:
        row.enabled = False
        row.disabled_at = datetime.now(UTC)
        session.add(row)
        await session.flush()


async def rules_of(session: AsyncSession, connection_id: str) -> list[MappingRule]:
    rows = await session.execute(
        select(MappingRuleRow).where(MappingRuleRow.connection_id == connection_id).order_by(MappingRuleRow.position)
    )
    return [
        MappingRule(
            match=Match(r.match), lms_id=r.lms_id, achievement_id=r.achievement_id, assessment_id=r.assessment_id
        )
        for r in rows.scalars()
    ]


async def replace_rules(session: AsyncSession, connection_id: str, rules: list[MappingRule]) -> None:
    await session.execute(delete(MappingRuleRow).where(MappingRuleRow.connection_id == connection_id))  # type: ignore[arg-type]
    for position, rule in enumerate(rules):
        session.add(
            MappingRuleRow(
                connection_id=connection_id,
                position=position,
                match=rule.match.value,
                lms_id=rule.lms_id,
                achievement_id=rule.achievement_id,
                assessment_id=rule.assessment_id,
            )
        )
    await session.flush()


def environment_connection_id(tenant_id: str, api_key: str) -> str:
    return f"env-{tenant_id}-{key_hash(api_key)[:8]}"


async def sync_environment_keys(
    session: AsyncSession, keys: dict[str, str], *, rate_per_second: float, burst: int
) -> None:
    """Make `CREDSTREAM_LMS_API_KEYS` (key -> tenant) connections of kind `any`; keys no longer configured are
    disabled. Bootstrap/dev keys thereby take the same path as connections made through the admin API."""
    wanted = {environment_connection_id(tenant, key): (tenant, key) for key, tenant in keys.items()}
    rows = await session.execute(select(LmsConnection).where(LmsConnection.origin == "environment"))
    existing = {row.id: row for row in rows.scalars()}
    for connection_id, (tenant, key) in wanted.items():
        row = existing.get(connection_id)
        if row is None:
            session.add(
                LmsConnection(
                    id=connection_id,
                    tenant_id=tenant,
                    name=f"{tenant} (CREDSTREAM_LMS_API_KEYS)",
                    source_kind=SourceKind.ANY.value,
                    auth_method=AuthMethod.API_KEY.value,
                    key_hash=key_hash(key),
                    rate_per_second=rate_per_second,
                    burst=burst,
                    origin="environment",
                )
            )
        elif not row.enabled:
            row.enabled, row.disabled_at = True, None
            session.add(row)
    for connection_id, row in existing.items():
        if connection_id not in wanted:
            await disable(session, row)
    await session.flush()
