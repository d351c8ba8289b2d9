"""Issuer identity: a tenant's DID (did:key or did:web), its verification methods and its DID document. Pure."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from shared.credentials.dates import format_xsd_datetime
from shared.credentials.keys import DID_KEY_PREFIX, DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT
from shared.settings import DidMethod, Settings

DID_WEB_PREFIX = "did:web:"
TENANTS_PATH = "tenants"


@dataclass(frozen=True)
class PublishedKey:
    """A public key as the DID document lists it; a revoked key is listed but no longer authorised."""

    key_id: str  # publicKeyMultibase
    revoked_at: datetime | None = None


def did_web(base_url: str, tenant_id: str | None = None) -> str:
    """The did:web DID of `base_url` (its host, a port as %3A, its path), or of a tenant under it.

    `https://badges.example.org` -> `did:web:badges.example.org`; with tenant `acme` ->
    `did:web:badges.example.org:tenants:acme`, whose document is `https://badges.example.org/tenants/acme/did.json`.
    """
    parts = urlsplit(base_url)
    if not parts.hostname:
        raise ValueError(f"not an absolute URL: {base_url!r}")
    host = parts.hostname + (f"%3A{parts.port}" if parts.port else "")
    segments = [quote(segment, safe="") for segment in parts.path.split("/") if segment]
    if tenant_id is not None:
        segments += [TENANTS_PATH, tenant_id]
    return ":".join([DID_WEB_PREFIX + host, *segments])


def tenant_did(settings: Settings, tenant_id: str, key_id: str) -> str:
    """The DID that issues `tenant_id`'s badges when it signs with key `key_id`.

    did:key is the key itself (a rotation changes the DID); did:web stays the same across rotations.
    """
    if settings.did_method() == DidMethod.KEY:
        return DID_KEY_PREFIX + key_id
    return tenant_web_did(settings, tenant_id)


def tenant_web_did(settings: Settings, tenant_id: str) -> str:
    """A tenant's did:web DID: its configured `id`, the host's own DID for the host tenant, else a path DID."""
    profile = settings.issuers.get(tenant_id)
    if profile is not None and profile.id:
        return profile.id
    host_tenant = tenant_id == settings.issuer_host_tenant
    return did_web(settings.issuer_url(), None if host_tenant else tenant_id)


def verification_method_id(did: str, key_id: str) -> str:
    """`<did>#<publicKeyMultibase>`: for did:key the only form verifiers accept, for did:web stable and unique."""
    return f"{did}#{key_id}"


def did_document(did: str, keys: Sequence[PublishedKey]) -> dict[str, Any]:
    """A did:web DID document: every key as a Multikey; the unrevoked ones under `assertionMethod`.

    Keys retired by a rotation stay authorised, so badges signed before the rotation keep verifying; a key that
    was explicitly revoked stays listed with its `revoked` time, and verifiers reject what it signed.
    """
    methods = []
    for key in keys:
        method: dict[str, Any] = {
            "id": verification_method_id(did, key.key_id),
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.key_id,
        }
        if key.revoked_at is not None:
            method["revoked"] = format_xsd_datetime(key.revoked_at)
        methods.append(method)
    return {
        "@context": [DID_V1_CONTEXT, MULTIKEY_V1_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods if "revoked" not in m],
    }
