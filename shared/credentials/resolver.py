"""Resolving a proof's ``verificationMethod`` to a public key, without network I/O.

Resolvers are synchronous pure functions over data the caller already has: :class:`DidKeyResolver` derives
the key from the did:key itself; :class:`StaticDocumentResolver` looks the method up in controller documents
(DID documents of did:web issuers, https key documents) that the caller fetched or configured beforehand.
Fetching did:web documents over HTTP belongs to the caller (a service), which then builds a
``StaticDocumentResolver`` from the fetched documents; the verification core never performs I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import KeyFormatError, KeyResolutionError
from .keys import DID_KEY_PREFIX, parse_did_key, public_key_from_multibase

# Key types whose publicKeyMultibase uses the Multikey encoding (0xed01 header) for Ed25519.
SUPPORTED_KEY_TYPES = frozenset({"Multikey", "Ed25519VerificationKey2020"})
VERIFICATION_RELATIONSHIPS = (
    "assertionMethod",
    "authentication",
    "capabilityInvocation",
    "capabilityDelegation",
    "keyAgreement",
)


@dataclass(frozen=True)
class VerificationMethod:
    """A resolved verification method.

    ``purposes`` lists the verification relationships (``assertionMethod`` etc.) under which the controller
    document authorises this method; it is empty when the controller document was not available.
    """

    id: str
    controller: str
    public_key: Ed25519PublicKey
    purposes: frozenset[str] = frozenset()


@runtime_checkable
class KeyResolver(Protocol):
    """Anything that maps a verification method id to a :class:`VerificationMethod` (raises on failure)."""

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Resolve ``vm_id`` or raise :class:`KeyResolutionError`."""
        ...


class DidKeyResolver:
    """Offline resolver for ``did:key`` Ed25519 verification methods (``did:key:<mb>#<mb>`` only)."""

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Derive the method from the identifier itself; other fragments than the key are rejected."""
        did, _, fragment = vm_id.partition("#")
        if not did.startswith(DID_KEY_PREFIX):
            raise KeyResolutionError(f"not a did:key verification method: {vm_id!r}")
        try:
            mb, public_key = parse_did_key(did)
        except KeyFormatError as exc:
            raise KeyResolutionError(f"invalid did:key {did!r}: {exc}") from exc
        if fragment != mb:
            raise KeyResolutionError(
                f"did:key verification method must be {did}#{mb}, got {vm_id!r}",
                code="issuer.verification_method_invalid",
            )
        return VerificationMethod(vm_id, did, public_key, frozenset(VERIFICATION_RELATIONSHIPS[:4]))


def _absolute(ref: str, base: str) -> str:
    # Relative method ids in DID documents are fragments ("#key-1") of the document id.
    return base + ref if ref.startswith("#") else ref


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class StaticDocumentResolver:
    """Resolve verification methods from controller documents supplied up front (URL or DID -> JSON).

    The document for ``https://host/issuer#key`` is looked up under ``https://host/issuer`` (and likewise
    ``did:web:host#key`` under ``did:web:host``); a document whose key is the full method id (a standalone key
    document) is accepted too. Purposes come from the controller document's verification relationships.
    """

    def __init__(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        self._documents = dict(documents)

    @classmethod
    def from_documents(cls, documents: Iterable[Mapping[str, Any]]) -> StaticDocumentResolver:
        """Build a resolver from documents keyed by their own ``id``."""
        return cls({str(doc["id"]): doc for doc in documents})

    def _document(self, url: str) -> Mapping[str, Any] | None:
        return self._documents.get(url) or self._documents.get(unquote(url))

    def _find_method(self, vm_id: str) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
        base = vm_id.partition("#")[0]
        standalone = self._document(vm_id)
        if standalone is not None and standalone.get("id") == vm_id and "publicKeyMultibase" in standalone:
            return standalone, None
        doc = self._document(base)
        if doc is None:
            raise KeyResolutionError(f"no controller document supplied for {base!r}")
        doc_id = str(doc.get("id", base))
        candidates = list(_as_list(doc.get("verificationMethod")))
        for relationship in VERIFICATION_RELATIONSHIPS:  # methods may also be embedded in a relationship
            candidates.extend(m for m in _as_list(doc.get(relationship)) if isinstance(m, Mapping))
        for method in candidates:
            if isinstance(method, Mapping) and _absolute(str(method.get("id", "")), doc_id) == vm_id:
                return method, doc
        raise KeyResolutionError(f"verification method {vm_id!r} not found in document {doc_id!r}")

    def _purposes(self, vm_id: str, controller_doc: Mapping[str, Any] | None) -> frozenset[str]:
        if controller_doc is None:
            return frozenset()
        doc_id = str(controller_doc.get("id", ""))
        purposes = set()
        for relationship in VERIFICATION_RELATIONSHIPS:
            for ref in _as_list(controller_doc.get(relationship)):
                ref_id = ref.get("id") if isinstance(ref, Mapping) else ref
                if isinstance(ref_id, str) and _absolute(ref_id, doc_id) == vm_id:
                    purposes.add(relationship)
        return frozenset(purposes)

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Find ``vm_id`` in the supplied documents and decode its ``publicKeyMultibase``."""
        method, doc = self._find_method(vm_id)
        if method.get("type") not in SUPPORTED_KEY_TYPES:
            raise KeyResolutionError(f"verification method {vm_id!r} has unsupported type {method.get('type')!r}")
        doc_id = str(doc.get("id")) if doc is not None else vm_id.partition("#")[0]
        controller = method.get("controller")
        if not isinstance(controller, str):
            raise KeyResolutionError(f"verification method {vm_id!r} has no controller")
        if method.get("revoked"):
            raise KeyResolutionError(f"verification method {vm_id!r} is revoked", code="issuer.key_revoked")
        try:
            public_key = public_key_from_multibase(str(method.get("publicKeyMultibase", "")))
        except KeyFormatError as exc:
            raise KeyResolutionError(f"verification method {vm_id!r}: {exc}") from exc
        # Relationships count only in the controller's own document, not one that merely lists the key.
        controller_doc = doc if doc is not None and doc_id == controller else self._document(controller)
        return VerificationMethod(vm_id, controller, public_key, self._purposes(vm_id, controller_doc))


class ChainResolver:
    """Try several resolvers in order: did:key ids go to a :class:`DidKeyResolver`, the rest to the others."""

    def __init__(self, *resolvers: KeyResolver) -> None:
        self._resolvers = resolvers or (DidKeyResolver(),)

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Return the first successful resolution; re-raise the most specific failure."""
        errors: list[KeyResolutionError] = []
        for resolver in self._resolvers:
            if isinstance(resolver, DidKeyResolver) != vm_id.startswith(DID_KEY_PREFIX):
                continue
            try:
                return resolver.resolve_verification_method(vm_id)
            except KeyResolutionError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        raise KeyResolutionError(f"no resolver can resolve {vm_id!r}")


def did_web_document_url(did: str) -> str:
    """Return the HTTPS URL of a ``did:web`` DID document (for callers that fetch it themselves)."""
    if not did.startswith("did:web:") or "#" in did:
        raise ValueError(f"not a did:web DID: {did!r}")
    parts = [unquote(p) for p in did[len("did:web:") :].split(":")]
    path = "/".join(parts[1:])
    return f"https://{parts[0]}/{path}/did.json" if path else f"https://{parts[0]}/.well-known/did.json"
