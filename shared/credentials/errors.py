"""Exceptions raised by the credentials core.

Each carries a machine-readable ``code`` that matches the codes used in verification reports.
"""

from __future__ import annotations


class CredentialError(Exception):
    """Base class for all errors raised by ``shared.credentials``."""

    code: str = "credential.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class DocumentNotBundledError(CredentialError):
    """A JSON-LD document was requested that is neither bundled nor supplied by the caller."""

    code = "data.context_unavailable"

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD document {url!r} is not bundled with shared.credentials and no extra document was "
            "supplied for it; documents are never fetched from the network",
        )
        self.url = url


class UndefinedTermError(CredentialError):
    """The document uses terms or IRIs that JSON-LD processing would drop (JSON-LD safe mode fails)."""

    code = "data.undefined_term"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("JSON-LD safe mode violation: " + "; ".join(problems))
        self.problems = problems


class JsonLdProcessingError(CredentialError):
    """pyld could not process the document (malformed JSON-LD, invalid context, ...)."""

    code = "data.invalid_jsonld"


class KeyFormatError(CredentialError):
    """A key, multibase string or did:key identifier is malformed."""

    code = "key.invalid_format"


class KeyResolutionError(CredentialError):
    """A verification method could not be resolved to a usable public key."""

    code = "issuer.key_unresolved"


class TooComplexError(CredentialError):
    """Processing the document would take more work than allowed (e.g. an RDFC-1.0 "poison graph")."""

    code = "data.too_complex"
