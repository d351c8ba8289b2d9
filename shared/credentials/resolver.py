"""Resolving a proof's ``verificationMethod`` to a public key, without network I/O.

Resolvers are synchronous pure functions over data the caller already has: :class:`DidKeyResolver` derives
the key from the did:key itself; :class:`StaticDocumentResolver` looks the method up in controller documents
(DID documents of did:web issuers, https key documents) that the caller fetched or configured beforehand.
Fetching did:web documents over HTTP belongs to the caller (a service), which then builds a
``StaticDocumentResolver`` from the fetched documents; the verification core never performs I/O.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from .documents import DocumentSet
from .errors import KeyFormatError, KeyResolutionError
from .jwk import JwkPublicKey, public_key_from_jwk
from .keys import DID_KEY_PREFIX, public_key_from_multibase
from .multikey import MULTIKEY_PREFIXES, PublicKey, multikey_public_key
from .untrusted_json import UntrustedJsonError, parse_json

# Key types whose publicKeyMultibase uses the Multikey encoding: a Multikey may be Ed25519 (0xed01 header),
# P-256 (0x8024) or P-384 (0x8124); an Ed25519VerificationKey2020 only Ed25519.
SUPPORTED_KEY_TYPES = frozenset({"Multikey", "Ed25519VerificationKey2020", "JsonWebKey", "JsonWebKey2020"})
# Methods holding a publicKeyJwk (VC Data Integrity "JsonWebKey"): RSA keys among them serve VC-JWT RS256 only.
JWK_KEY_TYPES = frozenset({"JsonWebKey", "JsonWebKey2020"})
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
    public_key: PublicKey | JwkPublicKey
    purposes: frozenset[str] = frozenset()


@runtime_checkable
class KeyResolver(Protocol):
    """Anything that maps a verification method id to a :class:`VerificationMethod` (raises on failure)."""

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Resolve ``vm_id`` or raise :class:`KeyResolutionError`."""
        ...


class DidKeyResolver:
    """Offline resolver for ``did:key`` Ed25519, P-256 and P-384 verification methods (``did:key:<mb>#<mb>`` only)."""

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Derive the method from the identifier itself; other fragments than the key are rejected."""
        did, _, fragment = vm_id.partition("#")
        if not did.startswith(DID_KEY_PREFIX):
            raise KeyResolutionError(f"not a did:key verification method: {vm_id!r}")
        mb = did[len(DID_KEY_PREFIX) :]
        try:
            public_key = multikey_public_key(mb)
        except KeyFormatError as exc:
            raise KeyResolutionError(f"invalid did:key {did!r}: {exc}") from exc
        if fragment != mb:
            raise KeyResolutionError(
                f"did:key verification method must be {did}#{mb}, got {vm_id!r}",
                code="issuer.verification_method_invalid",
            )
        return VerificationMethod(vm_id, did, public_key, frozenset(VERIFICATION_RELATIONSHIPS[:4]))


DID_JWK_PREFIX = "did:jwk:"


class DidJwkResolver:
    """Offline resolver for ``did:jwk`` (did:jwk method specification): the DID is ``did:jwk:`` + the base64url
    of a public JWK, and its one verification method is ``<did>#0``. Its DID document lists that method under
    every verification relationship except keyAgreement; a key with ``"use": "enc"`` only under keyAgreement."""

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Decode the key from the DID; any other method id than ``<did>#0`` is rejected."""
        did, _, fragment = vm_id.partition("#")
        if not did.startswith(DID_JWK_PREFIX):
            raise KeyResolutionError(f"not a did:jwk verification method: {vm_id!r}")
        encoded = did[len(DID_JWK_PREFIX) :]
        try:
            jwk = parse_json(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            public_key = public_key_from_jwk(jwk)
        except (binascii.Error, ValueError, UntrustedJsonError, KeyFormatError) as exc:
            raise KeyResolutionError(f"invalid did:jwk {did!r}: {exc}", code="issuer.key_unresolved") from exc
        if fragment != "0":
            raise KeyResolutionError(
                f"did:jwk verification method must be {did}#0, got {vm_id!r}", code="issuer.verification_method_invalid"
            )
        purposes = {"keyAgreement"} if jwk.get("use") == "enc" else set(VERIFICATION_RELATIONSHIPS[:4])
        if jwk.get("use") is None:
            purposes.add("keyAgreement")
        return VerificationMethod(vm_id, did, public_key, frozenset(purposes))


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
        if (
            standalone is not None
            and standalone.get("id") == vm_id
            and ("publicKeyMultibase" in standalone or "publicKeyJwk" in standalone)
        ):
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
        multibase = str(method.get("publicKeyMultibase", ""))
        try:
            if method.get("type") in JWK_KEY_TYPES:
                public_key: PublicKey | JwkPublicKey = public_key_from_jwk(method.get("publicKeyJwk"))
            elif method.get("type") == "Multikey":
                public_key = multikey_public_key(multibase)
            else:
                public_key = public_key_from_multibase(multibase)
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


def did_web_document_url(did: str, insecure_hosts: Iterable[str] = ()) -> str:
    """Return the URL of a ``did:web`` DID document (for callers that fetch it themselves).

    ``did:web:host%3Aport:a:b`` -> ``https://host:port/a/b/did.json``; ``did:web:host`` ->
    ``https://host/.well-known/did.json``. Hosts in ``insecure_hosts`` (development only) get ``http://``.
    """
    if not did.startswith("did:web:") or "#" in did or "?" in did:
        raise ValueError(f"not a did:web DID: {did!r}")
    parts = [unquote(p) for p in did[len("did:web:") :].split(":")]
    authority = parts[0]
    if not authority or "/" in authority or any(not p or "/" in p for p in parts[1:]):
        raise ValueError(f"malformed did:web DID: {did!r}")
    host = urlsplit(f"//{authority}").hostname or ""
    scheme = "http" if host.lower() in {h.lower() for h in insecure_hosts} else "https"
    path = "/".join(parts[1:])
    return f"{scheme}://{authority}/{path}/did.json" if path else f"{scheme}://{authority}/.well-known/did.json"


# Key-resolution codes that mean "could not find out", not "the credential is wrong".
INCONCLUSIVE_KEY_CODES = frozenset(
    {"issuer.key_unavailable", "issuer.did_method_unsupported", "issuer.verification_method_unsupported"}
)


def key_document_url(vm_id: str, insecure_hosts: Iterable[str] = ()) -> str | None:
    """Return the URL to fetch to resolve ``vm_id`` (a did:web DID document or an https controller document).

    ``None`` for did:key (resolved offline) and for identifiers that cannot be fetched.
    """
    base = vm_id.partition("#")[0]
    if base.startswith("did:web:"):
        try:
            return did_web_document_url(base, insecure_hosts)
        except ValueError:
            return None
    if base.startswith(("https://", "http://")):
        return base
    return None


def named_key(vm_id: str) -> PublicKey | None:
    """The key a verification method id names by itself, if any, without any document.

    ``did:key:<mb>[#...]`` names its key, and so does any ``<url>#<multikey>`` fragment (``z6Mk…`` Ed25519,
    ``zDn…`` P-256, ``z82…`` P-384). Such a key lets
    a verifier check the signature, but on its own it does not show that the issuer controls the key.
    """
    did, _, fragment = vm_id.partition("#")
    candidates = [fragment] if fragment else []
    if did.startswith(DID_KEY_PREFIX):
        candidates.insert(0, did[len(DID_KEY_PREFIX) :])
    for candidate in candidates:
        if candidate.startswith(MULTIKEY_PREFIXES):
            try:
                return multikey_public_key(candidate)
            except KeyFormatError:
                continue
    return None


class DocumentResolver:
    """Resolve verification methods from a :class:`DocumentSet` gathered beforehand (offline or fetched).

    did:key is derived offline; did:web and http(s) methods are looked up in the set (by DID / URL); a
    recorded fetch failure becomes ``issuer.key_unavailable`` (inconclusive: undetermined) or
    ``issuer.key_unresolved`` (the document does not exist or is broken: failed). A did:web document must
    carry the DID as its ``id``.
    """

    def __init__(self, documents: DocumentSet | None = None, *, insecure_hosts: Iterable[str] = ()) -> None:
        self._documents = documents or DocumentSet()
        self._insecure_hosts = tuple(insecure_hosts)

    def resolve_verification_method(self, vm_id: str) -> VerificationMethod:
        """Resolve ``vm_id`` or raise :class:`KeyResolutionError` with a specific code."""
        base = vm_id.partition("#")[0]
        if base.startswith(DID_KEY_PREFIX):
            return DidKeyResolver().resolve_verification_method(vm_id)
        if base.startswith(DID_JWK_PREFIX):
            return DidJwkResolver().resolve_verification_method(vm_id)
        if ":" not in base or base.startswith(":"):
            raise KeyResolutionError(
                f"verification method {vm_id!r} is not a URL or DID", code="issuer.verification_method_invalid"
            )
        url = key_document_url(vm_id, self._insecure_hosts)
        if url is None:
            if base.startswith("did:"):
                method = base.split(":")[1]
                raise KeyResolutionError(
                    f"DID method {method!r} is not supported", code="issuer.did_method_unsupported"
                )
            raise KeyResolutionError(
                f"cannot resolve verification method {vm_id!r} (unsupported scheme)",
                code="issuer.verification_method_unsupported",
            )
        document = self._documents.get(vm_id, base, url)
        if document is None:
            failure = self._documents.failure(vm_id, base, url)
            if failure is None:
                raise KeyResolutionError(f"no document for {base!r} was supplied", code="issuer.key_unavailable")
            code = "issuer.key_unresolved" if failure.conclusive else "issuer.key_unavailable"
            raise KeyResolutionError(f"cannot get {url}: {failure.message}", code=code)
        if not isinstance(document, Mapping):
            raise KeyResolutionError(f"document for {base!r} is not a JSON object")
        if base.startswith("did:web:") and document.get("id") != base:
            raise KeyResolutionError(
                f"DID document at {url} has id {document.get('id')!r}, not {base!r}", code="issuer.key_unresolved"
            )
        return StaticDocumentResolver({base: document, vm_id: document}).resolve_verification_method(vm_id)
