"""Structural rules for Open Badges 3.0 credentials (no JSON-LD processing, no crypto)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .dates import parse_xsd_datetime
from .errors import CredentialError

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
OB_V3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_V3_CONTEXTS = frozenset(
    {
        "https://purl.imsglobal.org/spec/ob/v3p0/context.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        OB_V3_CONTEXT,
    }
)
CREDENTIAL_CONTEXT = (VC_V2_CONTEXT, OB_V3_CONTEXT)


@dataclass(frozen=True)
class Problem:
    """One structural problem: a machine-readable code, the check it belongs to and a human message."""

    check: str
    code: str
    message: str


class CredentialStructureError(CredentialError):
    """The credential violates structural rules (raised before signing)."""

    code = "data.invalid_structure"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems), code=problems[0].code)
        self.problems = problems


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_url(value: Any) -> bool:
    # VC data model: a URL, i.e. any absolute IRI (https:, did:, urn:).
    return isinstance(value, str) and ":" in value and not value.startswith(":") and " " not in value


def _context_problems(credential: dict[str, Any]) -> list[Problem]:
    ctx = credential.get("@context")
    if not isinstance(ctx, list) or not ctx:
        return [Problem("structure.context", "data.invalid_context", "@context must be a non-empty array")]
    if ctx[0] not in (VC_V2_CONTEXT, VC_V1_CONTEXT):
        return [Problem("structure.context", "data.invalid_context", f"@context[0] must be {VC_V2_CONTEXT}")]
    # Entries may be inline context objects (unhashable): only strings can name the OB context.
    if not any(isinstance(c, str) and c in OB_V3_CONTEXTS for c in ctx[1:]):
        return [Problem("structure.context", "data.invalid_context", "@context lacks the OB 3.0 context")]
    return []


# An OB 3.0 credential is one of these (AchievementCredential is OpenBadgeCredential's alias).
OB_CREDENTIAL_TYPES = ("OpenBadgeCredential", "AchievementCredential", "EndorsementCredential")


def _type_problems(credential: dict[str, Any]) -> list[Problem]:
    types = _as_list(credential.get("type", []))
    missing = [] if "VerifiableCredential" in types else ["VerifiableCredential"]
    if not any(t in types for t in OB_CREDENTIAL_TYPES):
        missing.append("OpenBadgeCredential")
    if missing:
        return [Problem("structure.type", "data.invalid_type", f"type lacks {', '.join(missing)}")]
    return []


def _vc_type_problems(credential: dict[str, Any]) -> list[Problem]:
    if "VerifiableCredential" not in _as_list(credential.get("type", [])):
        return [Problem("structure.type", "data.invalid_type", "type lacks VerifiableCredential")]
    return []


def _vc_context_problems(credential: dict[str, Any]) -> list[Problem]:
    ctx = credential.get("@context")
    if not isinstance(ctx, list) or not ctx or ctx[0] not in (VC_V2_CONTEXT, VC_V1_CONTEXT):
        return [Problem("structure.context", "data.invalid_context", f"@context[0] must be {VC_V2_CONTEXT}")]
    return []


def _issuer_problems(credential: dict[str, Any]) -> list[Problem]:
    issuer = credential.get("issuer")
    if issuer is None:
        return [Problem("structure.issuer", "data.missing_field", "issuer is missing")]
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not _is_url(issuer_id):
        return [Problem("structure.issuer", "data.invalid_issuer", f"issuer id is not a URL: {issuer_id!r}")]
    return []


def _subject_problems(credential: dict[str, Any]) -> list[Problem]:
    subject = credential.get("credentialSubject")
    if not subject or not all(isinstance(s, dict) and s for s in _as_list(subject)):
        return [Problem("structure.credentialSubject", "data.missing_field", "credentialSubject is missing")]
    return []


def _date_problems(credential: dict[str, Any]) -> list[Problem]:
    problems = []
    for name in ("validFrom", "validUntil", "issuanceDate", "expirationDate", "awardedDate"):
        if name in credential:
            try:
                parse_xsd_datetime(credential[name])
            except ValueError:
                problems.append(Problem("structure.dates", "data.invalid_date", f"{name} is not an XSD dateTime"))
    return problems


def _status_problems(credential: dict[str, Any]) -> list[Problem]:
    statuses = _as_list(credential.get("credentialStatus", []))
    if any(not isinstance(s, dict) or "type" not in s for s in statuses):
        return [Problem("structure.status", "data.missing_field", "every credentialStatus needs a type")]
    return []


def structure_problems(credential: Any, *, profile: str = "ob3") -> list[Problem]:
    """Return structural problems of an (unsigned or signed) credential; empty if none.

    ``profile="ob3"`` (default) applies the Open Badges 3.0 rules; ``profile="vc"`` only the generic
    Verifiable Credential ones (used for status list credentials).
    """
    if not isinstance(credential, dict):
        return [Problem("structure.document", "data.invalid_structure", "credential must be a JSON object")]
    if profile == "vc":
        context_rule, type_rule = _vc_context_problems, _vc_type_problems
    else:
        context_rule, type_rule = _context_problems, _type_problems
    problems: list[Problem] = []
    for rule in (
        context_rule,
        type_rule,
        _issuer_problems,
        _subject_problems,
        _date_problems,
        _status_problems,
    ):
        problems.extend(rule(credential))
    return problems


def issuer_id(credential: dict[str, Any]) -> str | None:
    """Return the issuer id (``issuer`` string or ``issuer.id``), or ``None``."""
    issuer = credential.get("issuer")
    value = issuer.get("id") if isinstance(issuer, dict) else issuer
    return value if isinstance(value, str) else None
