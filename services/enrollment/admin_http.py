"""Admin API (admin bearer token): LMS connections, their mapping rules, and the activities no rule mapped yet.

Secrets (API keys, HMAC secrets, generated JWT shared secrets) are returned once, in the creation response; the
database keeps only a hash (API keys) or an AES-GCM sealed copy (secrets a signature check must recompute with).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import Depends, FastAPI, Path, Response
from jwt import PyJWK
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from services.enrollment.adapters.connection_store import disable as disable_connection
from services.enrollment.adapters.connection_store import (
    list_connections,
    open_connection,
    replace_rules,
    rules_of,
)
from services.enrollment.adapters.secrets import SecretBox
from services.enrollment.adapters.tables import LmsConnection
from services.enrollment.connections import (
    AuthMethod,
    JwtVerifier,
    SourceKind,
    key_hash,
    new_connection_id,
    new_secret,
)
from services.enrollment.handlers import InvalidActivity, replay_unmapped, unmapped_of
from services.enrollment.lms_http import Receipt, receipt
from services.enrollment.mapping import MappingRule
from shared.contracts.text import Identifier, Text
from shared.db.engine import SessionFactory, transaction
from shared.http import ProblemError, require_admin
from shared.settings import Settings

TenantPath = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_second: float = Field(gt=0, le=100_000)
    burst: int = Field(ge=1, le=1_000_000)


class JwtConfig(BaseModel):
    """How JWT-signed bodies (e.g. Canvas signed Live Events) are verified: a PEM public key, or a shared secret
    (generated and shown once when neither is given)."""

    model_config = ConfigDict(extra="forbid")

    algorithms: list[str] = Field(default_factory=lambda: ["RS256"], min_length=1)
    public_key_pem: str | None = Field(default=None, max_length=20_000)
    public_jwk: dict[str, Any] | None = Field(
        default=None, description="The signer's public key as a JWK (e.g. one key of Canvas's JWKS); stored as PEM."
    )
    shared_secret: str | None = Field(default=None, min_length=32, max_length=512)
    issuer: Identifier | None = Field(default=None, max_length=500)


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    source_kind: SourceKind
    auth_method: AuthMethod = AuthMethod.API_KEY
    learner_prefix: str = Field(
        default="", max_length=64, pattern=r"^[A-Za-z0-9._:~-]*$", description="Prefixed to the LMS's learner ids."
    )
    rate_limit: RateLimit | None = None
    jwt: JwtConfig | None = None

    @model_validator(mode="after")
    def _jwt_only_for_jwt(self) -> ConnectionCreate:
        if (self.auth_method is AuthMethod.JWT) != (self.jwt is not None):
            raise ValueError("give `jwt` exactly when auth_method is jwt")
        if self.source_kind is SourceKind.ANY:
            raise ValueError("choose the source kind the LMS speaks (`any` is for bootstrap keys)")
        return self


class ConnectionPublic(BaseModel):
    id: str
    tenant_id: str
    name: str
    source_kind: SourceKind
    auth_method: AuthMethod
    learner_prefix: str
    rate_limit: RateLimit
    enabled: bool
    origin: str
    created_at: datetime
    disabled_at: datetime | None = None


class ConnectionCreated(ConnectionPublic):
    secret: str | None = Field(
        default=None, description="API key, HMAC secret or generated JWT secret. Shown only in this response."
    )


class UnmappedPublic(BaseModel):
    event_id: str
    format: str
    kind: str
    lms_activity_id: str | None
    lms_course_id: str | None
    reason: str
    times_seen: int
    first_seen_at: datetime
    last_seen_at: datetime


def _jwk_to_pem(jwk: dict[str, Any]) -> str:
    try:
        key = PyJWK(jwk).key
        pem = key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    except Exception as error:
        detail = f"public_jwk is not a usable public key: {error}"
        errors = [{"pointer": "/jwt/public_jwk", "detail": detail}]
        raise ProblemError(422, "Invalid request body", detail, errors=errors) from None
    return pem.decode()


def public(row: LmsConnection) -> ConnectionPublic:
    return ConnectionPublic(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        source_kind=SourceKind(row.source_kind),
        auth_method=AuthMethod(row.auth_method),
        learner_prefix=row.learner_prefix,
        rate_limit=RateLimit(per_second=row.rate_per_second, burst=row.burst),
        enabled=row.enabled,
        origin=row.origin,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


def install_admin_routes(
    app: FastAPI,
    settings: Settings,
    sessions: SessionFactory,
    box: SecretBox,
    wake: Callable[[], None],
    connections_changed: Callable[[], None],
) -> None:
    """Register the admin endpoints; `connections_changed` is called after a connection is created or disabled or
    its mapping rules are replaced (the LMS gate forgets the connections and rules it holds)."""
    admin = [Depends(require_admin(settings.admin_token.get_secret_value()))]
    base = "/v1/tenants/{tenant_id}/lms-connections"

    async def owned(session: AsyncSession, tenant_id: str, connection_id: str) -> LmsConnection:
        row = await session.get(LmsConnection, connection_id)
        if row is None or row.tenant_id != tenant_id:
            raise ProblemError(404, "Not Found", f"Tenant {tenant_id} has no LMS connection {connection_id}.")
        return row

    @app.post(base, status_code=201, response_model=ConnectionCreated, dependencies=admin, tags=["admin"])
    async def create_connection(tenant_id: TenantPath, body: ConnectionCreate) -> ConnectionCreated:
        """Create an LMS connection; the response holds its secret, shown this once."""
        connection_id = new_connection_id()
        rate = body.rate_limit or RateLimit(per_second=settings.lms_rate_per_second, burst=settings.lms_rate_burst)
        row = LmsConnection(
            id=connection_id,
            tenant_id=tenant_id,
            name=body.name,
            source_kind=body.source_kind.value,
            auth_method=body.auth_method.value,
            learner_prefix=body.learner_prefix,
            rate_per_second=rate.per_second,
            burst=rate.burst,
        )
        secret: str | None = None
        if body.auth_method is AuthMethod.API_KEY:
            secret = new_secret()
            row.key_hash = key_hash(secret)
        elif body.auth_method is AuthMethod.HMAC:
            secret = new_secret()
            row.sealed_secret = box.seal(secret, connection_id)
        else:
            assert body.jwt is not None
            jwt_secret = None
            if body.jwt.public_jwk is not None:
                body.jwt.public_key_pem = _jwk_to_pem(body.jwt.public_jwk)
            if not body.jwt.public_key_pem:
                jwt_secret = body.jwt.shared_secret or new_secret()
                secret = None if body.jwt.shared_secret else jwt_secret
            try:
                JwtVerifier(tuple(body.jwt.algorithms), body.jwt.public_key_pem, jwt_secret, body.jwt.issuer)
            except Exception as error:
                raise ProblemError(
                    422, "Invalid request body", str(error), errors=[{"pointer": "/jwt", "detail": str(error)}]
                ) from None
            row.jwt_algorithms = ",".join(body.jwt.algorithms)
            row.jwt_public_key = body.jwt.public_key_pem
            row.jwt_issuer = body.jwt.issuer
            row.sealed_secret = box.seal(jwt_secret, connection_id) if jwt_secret else None
        async with transaction(sessions) as session:
            session.add(row)
        connections_changed()
        return ConnectionCreated(**public(row).model_dump(), secret=secret)

    @app.get(base, response_model=list[ConnectionPublic], dependencies=admin, tags=["admin"])
    async def get_connections(tenant_id: TenantPath) -> list[ConnectionPublic]:
        async with sessions() as session:
            return [public(row) for row in await list_connections(session, tenant_id)]

    @app.get(base + "/{connection_id}", response_model=ConnectionPublic, dependencies=admin, tags=["admin"])
    async def get_connection(tenant_id: TenantPath, connection_id: str) -> ConnectionPublic:
        async with sessions() as session:
            return public(await owned(session, tenant_id, connection_id))

    @app.post(base + "/{connection_id}/disable", response_model=ConnectionPublic, dependencies=admin, tags=["admin"])
    async def disable(tenant_id: TenantPath, connection_id: str) -> ConnectionPublic:
        """Disable a connection: its credentials stop working at once on this replica, within
        `CONNECTION_CACHE_SECONDS` (5 s) on the others (records it sent stay)."""
        async with transaction(sessions) as session:
            row = await owned(session, tenant_id, connection_id)
            await disable_connection(session, row)
        connections_changed()
        return public(row)

    @app.put(base + "/{connection_id}/mappings", response_model=list[MappingRule], dependencies=admin, tags=["admin"])
    async def put_mappings(tenant_id: TenantPath, connection_id: str, rules: list[MappingRule]) -> list[MappingRule]:
        """Replace the connection's mapping rules (LMS course/activity id, exact or prefix → Achievement and/or
        assessment). Then replay the unmapped activities to apply them to what already arrived."""
        async with transaction(sessions) as session:
            await owned(session, tenant_id, connection_id)
            await replace_rules(session, connection_id, rules)
        connections_changed()
        return rules

    @app.get(base + "/{connection_id}/mappings", response_model=list[MappingRule], dependencies=admin, tags=["admin"])
    async def get_mappings(tenant_id: TenantPath, connection_id: str) -> list[MappingRule]:
        async with sessions() as session:
            await owned(session, tenant_id, connection_id)
            return await rules_of(session, connection_id)

    @app.get(
        base + "/{connection_id}/unmapped", response_model=list[UnmappedPublic], dependencies=admin, tags=["admin"]
    )
    async def get_unmapped(tenant_id: TenantPath, connection_id: str) -> list[UnmappedPublic]:
        """Activities that arrived but no mapping rule covers (kept, not dropped), oldest first."""
        async with sessions() as session:
            await owned(session, tenant_id, connection_id)
            rows = await unmapped_of(session, connection_id)
        return [UnmappedPublic.model_validate(row, from_attributes=True) for row in rows]

    @app.post(base + "/{connection_id}/unmapped/replay", response_model=Receipt, dependencies=admin, tags=["admin"])
    async def replay(tenant_id: TenantPath, connection_id: str) -> Response:
        """Run the kept unmapped activities through the current rules; those now mapped are recorded."""
        try:
            async with transaction(sessions) as session:
                row = await owned(session, tenant_id, connection_id)
                results = await replay_unmapped(session, open_connection(row, None))
        except InvalidActivity as error:
            raise ProblemError(422, "Unmapped activity still invalid", str(error)) from None
        wake()
        return receipt(results, status_code=200)
