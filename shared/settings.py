"""Configuration from the environment (pydantic-settings). Secrets left at their defaults stop production."""

import os
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contracts.text import Text

DEV_ADMIN_TOKEN = "dev-admin-token"
DEV_KEY_ENCRYPTION_KEY = "dev-only-key-encryption-key"
DEV_LMS_API_KEYS = "demo:dev-lms-key"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class InsecureDefaultError(ValueError):
    """A secret was left at its development default while CREDSTREAM_ENV=production."""


class DidMethod(StrEnum):
    KEY = "key"
    WEB = "web"


class IssuerProfileConfig(BaseModel):
    """How a tenant appears as the issuer of its badges."""

    id: str | None = Field(
        default=None,
        pattern=r"^did:web:[^:#/?]+(:[^:#/?]+)*$",
        description="The tenant's own did:web DID, if not the one derived from CREDSTREAM_ISSUER_BASE_URL "
        "(its DID document must then be proxied to this issuer's /tenants/<tenant>/did.json).",
    )
    name: Text
    url: str | None = None
    email: str | None = None
    description: Text | None = None
    image: str | None = None


class Settings(BaseSettings):
    """Every knob of every service; a service reads the ones it needs. Env names are given per field."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    env: Environment = Field(default=Environment.DEVELOPMENT, alias="CREDSTREAM_ENV")
    database_url: str = Field(default="sqlite+aiosqlite:///./.credstream/credstream.db", alias="DATABASE_URL")
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS")
    consumer_group_prefix: str = Field(default="credstream", alias="CREDSTREAM_CONSUMER_GROUP_PREFIX")
    http_host: str = Field(default="0.0.0.0", alias="HTTP_HOST")
    http_port: int | None = Field(default=None, alias="HTTP_PORT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_format: str = Field(default="json", alias="LOG_FORMAT", pattern="^(json|console)$")
    admin_token: SecretStr = Field(default=SecretStr(DEV_ADMIN_TOKEN), alias="CREDSTREAM_ADMIN_TOKEN")
    lms_api_keys: SecretStr = Field(
        default=SecretStr(DEV_LMS_API_KEYS),
        alias="CREDSTREAM_LMS_API_KEYS",
        description="Comma-separated `tenant:api-key` pairs, one per LMS connection.",
    )
    key_encryption_key: SecretStr = Field(
        default=SecretStr(DEV_KEY_ENCRYPTION_KEY),
        alias="CREDSTREAM_KEY_ENCRYPTION_KEY",
        description="Secret that encrypts issuer signing keys at rest.",
    )
    key_encryption_key_file: Path | None = Field(
        default=None,
        alias="CREDSTREAM_KEY_ENCRYPTION_KEY_FILE",
        description="A mounted secret file holding the key-encryption secret (wins over the variable).",
    )
    public_base_url: str = Field(default="http://127.0.0.1:8004", alias="CREDSTREAM_PUBLIC_BASE_URL")
    issuer_base_url: str | None = Field(
        default=None,
        alias="CREDSTREAM_ISSUER_BASE_URL",
        description="Public URL of the issuer service (DID documents, status lists); default "
        "CREDSTREAM_PUBLIC_BASE_URL, i.e. one host routes /.well-known, /tenants and /status-lists to the issuer.",
    )
    issuer_did_method: DidMethod | None = Field(
        default=None,
        alias="CREDSTREAM_ISSUER_DID_METHOD",
        description="`key` (self-contained did:key) or `web` (did:web on the issuer's host); default web in "
        "production, key in development.",
    )
    issuer_host_tenant: str | None = Field(
        default=None,
        alias="CREDSTREAM_ISSUER_HOST_TENANT",
        description="With did:web: the tenant that is did:web:<host> itself (/.well-known/did.json); every other "
        "tenant is did:web:<host>:tenants:<tenant>.",
    )
    status_list_max_age: int = Field(
        default=300,
        ge=0,
        alias="CREDSTREAM_STATUS_LIST_MAX_AGE",
        description="Seconds verifiers may cache a status list (Cache-Control max-age): how late a revocation "
        "may be seen.",
    )
    issuers: dict[str, IssuerProfileConfig] = Field(
        default_factory=dict,
        alias="CREDSTREAM_ISSUERS",
        description='JSON: tenant -> issuer profile, e.g. {"acme": {"name": "Acme Academy", "url": "https://acme.example"}}',
    )
    issuer_signing_processes: int | None = Field(
        default=None,
        ge=0,
        alias="CREDSTREAM_ISSUER_SIGNING_PROCESSES",
        description="Worker processes the issuer signs batches on; default one per CPU, 0 signs in the "
        "service's own process.",
    )
    outbox_linger_ms: int = Field(
        default=25,
        ge=0,
        le=1000,
        alias="CREDSTREAM_OUTBOX_LINGER_MS",
        description="After a commit wakes the outbox relay, how long it waits for the commits right behind it "
        "before one read, publish and delete for them all.",
    )
    consumer_linger_ms: int = Field(
        default=100,
        ge=0,
        le=1000,
        alias="CREDSTREAM_CONSUMER_LINGER_MS",
        description="After a Kafka poll that brought only a few records, how long a batch consumer waits for more "
        "before handling them (0: never waits). Trades that much latency per stage for fewer, larger transactions "
        "when traffic trickles in; busy consumers never wait.",
    )
    achievements_file: str | None = Field(default=None, alias="CREDSTREAM_ACHIEVEMENTS_FILE")
    max_body_bytes: int = Field(default=1_048_576, alias="CREDSTREAM_MAX_BODY_BYTES")
    lms_rate_per_second: float = Field(
        default=50.0,
        gt=0,
        alias="CREDSTREAM_LMS_RATE_PER_SECOND",
        description="Default requests per second per LMS connection (token bucket, per replica).",
    )
    lms_rate_burst: int = Field(default=100, ge=1, alias="CREDSTREAM_LMS_RATE_BURST")
    insecure_http_hosts: str = Field(
        default="",
        alias="CREDSTREAM_INSECURE_HTTP_HOSTS",
        description="Development only: comma-separated hosts the verifier may fetch over plain http and at "
        "private/loopback addresses (e.g. `127.0.0.1,localhost`). Must be empty in production (https only).",
    )
    verify_workers: int = Field(
        default=2,
        ge=1,
        alias="CREDSTREAM_VERIFY_WORKERS",
        description="Verifier: worker processes that verify credentials (at most this many at once).",
    )
    verify_max_waiting: int = Field(
        default=8,
        ge=0,
        alias="CREDSTREAM_VERIFY_MAX_WAITING",
        description="Verifier: verifications that may wait for a worker; past that, 503 with Retry-After.",
    )
    verify_max_work: int = Field(
        default=10_000,
        ge=1,
        alias="CREDSTREAM_VERIFY_MAX_WORK",
        description="Verifier: RDFC-1.0 blank node work units allowed per canonicalisation; past it, "
        "data.too_complex (docs/verification-limits.md).",
    )
    verify_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        alias="CREDSTREAM_VERIFY_DEADLINE_SECONDS",
        description="Verifier: time one verification may take (waiting included) before it is stopped (503).",
    )
    verify_clock_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        alias="CREDSTREAM_VERIFY_CLOCK_SKEW_SECONDS",
        description="Clock skew the verifier tolerates on validFrom/validUntil and a proof's created/expires.",
    )
    fetch_timeout_seconds: float = Field(default=5.0, gt=0, alias="CREDSTREAM_FETCH_TIMEOUT_SECONDS")
    fetch_max_bytes: int = Field(default=512 * 1024, gt=0, alias="CREDSTREAM_FETCH_MAX_BYTES")
    fetch_cache_ttl_seconds: float = Field(
        default=300.0,
        ge=0,
        alias="CREDSTREAM_FETCH_CACHE_TTL_SECONDS",
        description="How long fetched key documents and status lists are reused when the response has no max-age.",
    )

    @model_validator(mode="after")
    def _secret_files(self) -> "Settings":
        if self.key_encryption_key_file is not None:
            try:
                secret = self.key_encryption_key_file.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise ValueError(f"CREDSTREAM_KEY_ENCRYPTION_KEY_FILE cannot be read: {error.strerror}") from error
            if not secret:
                raise ValueError("CREDSTREAM_KEY_ENCRYPTION_KEY_FILE is empty")
            self.key_encryption_key = SecretStr(secret)
        return self

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> "Settings":
        if self.env is Environment.PRODUCTION:
            defaults = {
                "CREDSTREAM_ADMIN_TOKEN": (self.admin_token, DEV_ADMIN_TOKEN),
                "CREDSTREAM_LMS_API_KEYS": (self.lms_api_keys, DEV_LMS_API_KEYS),
                "CREDSTREAM_KEY_ENCRYPTION_KEY": (self.key_encryption_key, DEV_KEY_ENCRYPTION_KEY),
            }
            weak = [name for name, (value, default) in defaults.items() if value.get_secret_value() in ("", default)]
            if weak:
                raise InsecureDefaultError(f"set these secrets for production: {', '.join(weak)}")
            if self.insecure_hosts():
                raise InsecureDefaultError("CREDSTREAM_INSECURE_HTTP_HOSTS must be empty in production (https only)")
        return self

    @model_validator(mode="after")
    def _did_web_needs_https(self) -> "Settings":
        # did:web resolves over HTTPS only; a production issuer on http:// would sign unverifiable badges.
        web = self.env is Environment.PRODUCTION and self.did_method() == DidMethod.WEB
        if web and urlsplit(self.issuer_url()).scheme != "https":
            raise ValueError("did:web needs an https:// CREDSTREAM_ISSUER_BASE_URL (or CREDSTREAM_PUBLIC_BASE_URL)")
        return self

    def did_method(self) -> DidMethod:
        """The issuers' DID method: as configured, else did:web in production and did:key in development."""
        if self.issuer_did_method is not None:
            return self.issuer_did_method
        return DidMethod.WEB if self.env is Environment.PRODUCTION else DidMethod.KEY

    def issuer_url(self) -> str:
        """The issuer service's public base URL, without a trailing slash."""
        return (self.issuer_base_url or self.public_base_url).rstrip("/")

    def signing_processes(self) -> int:
        """How many worker processes the issuer signs on: CREDSTREAM_ISSUER_SIGNING_PROCESSES, else one per CPU
        this process may run on (taskset / cgroup cpusets narrow that)."""
        if self.issuer_signing_processes is not None:
            return self.issuer_signing_processes
        if hasattr(os, "sched_getaffinity"):
            return len(os.sched_getaffinity(0))
        return os.cpu_count() or 1

    def insecure_hosts(self) -> frozenset[str]:
        """Hosts that may be fetched over plain http / at private addresses (development only)."""
        return frozenset(h.strip().lower() for h in self.insecure_http_hosts.split(",") if h.strip())

    def lms_keys(self) -> dict[str, str]:
        """API key -> tenant id."""
        keys: dict[str, str] = {}
        for pair in self.lms_api_keys.get_secret_value().split(","):
            tenant, _, key = pair.strip().partition(":")
            if tenant and key:
                keys[key] = tenant
        return keys
