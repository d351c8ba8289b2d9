"""Documents a verification needs besides the credential: issuer key/DID documents and status list credentials.

The pure verification core never fetches anything: a caller gathers the documents first (from the network with
:mod:`shared.credentials.fetch`, from files with ``credstream verify --doc URL=FILE``, from a test) into a
:class:`DocumentSet` and hands it over. A document that could not be had is recorded as a :class:`DocumentFailure`
so that the core can tell "the issuer's server says this key does not exist" (a failed check) from "the
issuer's server could not be reached" (an undetermined check).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import unquote

FailureKind = Literal["unavailable", "not_found", "invalid", "refused"]
# Failures that say nothing about the credential itself: the document may well exist and be fine.
INCONCLUSIVE_FAILURES: frozenset[FailureKind] = frozenset({"unavailable", "refused"})


@dataclass(frozen=True)
class DocumentFailure:
    """Why a document could not be obtained.

    ``unavailable``: network error, timeout, 5xx, or not supplied offline; ``not_found``: 404/410;
    ``invalid``: not JSON, not an object, too large; ``refused``: the URL is not allowed (plain http in
    production, an unsupported scheme or DID method).
    """

    url: str
    kind: FailureKind
    message: str

    @property
    def conclusive(self) -> bool:
        """True when the failure is evidence about the document (it is missing or broken), not about us."""
        return self.kind not in INCONCLUSIVE_FAILURES


@dataclass
class DocumentSet:
    """URL (or DID) -> JSON document, plus the failures met while gathering them and when each was fetched."""

    documents: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, DocumentFailure] = field(default_factory=dict)
    fetched_at: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: Mapping[str, Any]) -> DocumentSet:
        """A set holding ``documents`` (e.g. supplied offline)."""
        return cls(documents=dict(documents))

    def get(self, *keys: str) -> Any | None:
        """Return the first document found under any of ``keys`` (also tried percent-decoded)."""
        for key in keys:
            for candidate in (key, unquote(key)):
                if candidate in self.documents:
                    return self.documents[candidate]
        return None

    def failure(self, *keys: str) -> DocumentFailure | None:
        """Return the recorded failure for the first of ``keys`` that has one."""
        for key in keys:
            if key in self.failures:
                return self.failures[key]
        return None

    def add(self, url: str, document: Any, fetched_at: datetime | None = None) -> None:
        """Record a fetched document."""
        self.documents[url] = document
        self.failures.pop(url, None)
        if fetched_at is not None:
            self.fetched_at[url] = fetched_at

    def fail(self, failure: DocumentFailure) -> None:
        """Record that ``failure.url`` could not be obtained."""
        if failure.url not in self.documents:
            self.failures[failure.url] = failure

    def has(self, url: str) -> bool:
        """True if a document or a failure is recorded for ``url``."""
        return url in self.documents or url in self.failures
