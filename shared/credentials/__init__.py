"""Open Badges 3.0 credentials: offline JSON-LD, Ed25519 keys, eddsa-rdfc-2022 proofs and verification.

The verification core is pure: JSON-LD contexts are bundled (``contexts/``) and issuer keys and status lists come
from a :class:`DocumentSet` or an injected :class:`KeyResolver`. Network I/O lives only in ``fetch`` (the
:class:`DocumentFetcher` port and its httpx adapter) and ``online.verify_with_fetch``, which gathers the documents
and then calls the core. See docs SIGNING.md for the exact signing recipe.
"""

from .documents import DocumentFailure, DocumentSet
from .errors import (
    CredentialError,
    DocumentNotBundledError,
    JsonLdProcessingError,
    KeyFormatError,
    KeyResolutionError,
    UndefinedTermError,
)
from .fetch import (
    CachingFetcher,
    DocumentFetcher,
    FetchedDocument,
    FetchError,
    HttpDocumentFetcher,
    StaticFetcher,
)
from .jsonld import (
    bundled_context_urls,
    canonicalize,
    check_all_terms_defined,
    find_safe_mode_violations,
    make_document_loader,
)
from .keys import (
    did_key,
    did_key_document,
    did_key_verification_method,
    generate_key,
    key_from_seed,
    key_to_seed,
    public_key_from_multibase,
    public_key_multibase,
)
from .ob3 import (
    Achievement,
    AchievementSubject,
    Alignment,
    BitstringStatusListEntry,
    Criteria,
    Evidence,
    IdentityObject,
    Image,
    OpenBadgeCredential,
    Profile,
    Result,
    ResultDescription,
    RubricCriterionLevel,
    build_open_badge_credential,
    hash_identity,
    make_identity_object,
    new_credential_id,
)
from .online import gather_documents, verify_with_fetch
from .proof import ProofCheckResult, ProofHashes, proof_hashes, sign_credential, verify_proof
from .resolver import (
    ChainResolver,
    DidKeyResolver,
    DocumentResolver,
    KeyResolver,
    StaticDocumentResolver,
    VerificationMethod,
    did_web_document_url,
)
from .schema import credential_schema, schema_problems
from .structure import CREDENTIAL_CONTEXT, CredentialStructureError, structure_problems
from .suites import verify_embedded_proof
from .verification import CheckResult, VerificationReport, verify_credential

__all__ = [
    "CREDENTIAL_CONTEXT",
    "Achievement",
    "AchievementSubject",
    "Alignment",
    "BitstringStatusListEntry",
    "CachingFetcher",
    "ChainResolver",
    "CheckResult",
    "CredentialError",
    "CredentialStructureError",
    "Criteria",
    "DidKeyResolver",
    "DocumentFailure",
    "DocumentFetcher",
    "DocumentNotBundledError",
    "DocumentResolver",
    "DocumentSet",
    "Evidence",
    "FetchError",
    "FetchedDocument",
    "HttpDocumentFetcher",
    "IdentityObject",
    "Image",
    "JsonLdProcessingError",
    "KeyFormatError",
    "KeyResolutionError",
    "KeyResolver",
    "OpenBadgeCredential",
    "Profile",
    "ProofCheckResult",
    "ProofHashes",
    "Result",
    "ResultDescription",
    "RubricCriterionLevel",
    "StaticDocumentResolver",
    "StaticFetcher",
    "UndefinedTermError",
    "VerificationMethod",
    "VerificationReport",
    "build_open_badge_credential",
    "bundled_context_urls",
    "canonicalize",
    "check_all_terms_defined",
    "credential_schema",
    "did_key",
    "did_key_document",
    "did_key_verification_method",
    "did_web_document_url",
    "find_safe_mode_violations",
    "gather_documents",
    "generate_key",
    "hash_identity",
    "key_from_seed",
    "key_to_seed",
    "make_document_loader",
    "make_identity_object",
    "new_credential_id",
    "proof_hashes",
    "public_key_from_multibase",
    "public_key_multibase",
    "schema_problems",
    "sign_credential",
    "structure_problems",
    "verify_credential",
    "verify_embedded_proof",
    "verify_proof",
    "verify_with_fetch",
]
