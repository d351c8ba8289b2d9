"""What a badge page shows, derived from a credential and its verification report. Pure: no I/O, no clock.

Credentials published here are ours, but the page reads them defensively (any OB 3.0 / VC shape): a missing or
oddly typed field is left out of the page, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from shared.credentials.dates import parse_xsd_datetime
from shared.credentials.verification import VerificationReport

LINKEDIN_ADD_TO_PROFILE = "https://www.linkedin.com/profile/add"
_HTTP_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)

# People read check names in words; unknown checks fall back to their dotted name.
CHECK_LABELS = {
    "structure": "Credential structure",
    "schema": "Open Badges 3.0 schema",
    "data.terms": "Vocabulary (every term defined by the contexts)",
    "data.signed_claims": "Signed claims (issuer, type, dates and status as signed)",
    "proof.suite": "Proof type",
    "proof.time": "Proof date",
    "proof.set": "Other proofs",
    "proof.jwt_claims": "JWT claims (agree with the credential)",
    "issuer.key": "Issuer's signing key",
    "proof.signature": "Digital signature",
    "validity": "Validity period",
    "status": "Revocation status",
    "ob.profile": "Open Badge",
}
_OUTCOME_SYMBOLS = {"passed": "✓", "failed": "✗", "undetermined": "?", "skipped": "-", "not_applicable": "/"}
_OUTCOME_WORDS = {
    "passed": "Passed",
    "failed": "Failed",
    "undetermined": "Could not be checked",
    "skipped": "Skipped",
    "not_applicable": "Not applicable",
}


@dataclass(frozen=True)
class Link:
    text: str
    url: str | None = None  # only http(s) URLs become links


@dataclass(frozen=True)
class DateLine:
    label: str
    iso: str
    text: str


@dataclass(frozen=True)
class CheckLine:
    name: str
    label: str
    outcome: str
    outcome_text: str
    symbol: str
    code: str
    message: str


@dataclass(frozen=True)
class Status:
    """The verdict in one word for people, with a CSS modifier and one sentence of explanation."""

    key: str  # verified | revoked | suspended | expired | not-yet-valid | not-verified
    label: str
    summary: str


@dataclass(frozen=True)
class ResultLine:
    name: str
    value: str


@dataclass(frozen=True)
class WalletCopy:
    """A holder-bound copy a wallet claimed (badge-issued 1.1): the award's credential it copies, and the holder."""

    award_credential_id: str
    holder: str | None = None


@dataclass(frozen=True)
class CopyNote:
    """What the page says about a wallet copy: the award's badge page (relative link) and the holder's DID."""

    award_url: str
    award_credential_id: str
    holder: str | None


@dataclass
class BadgeView:
    credential_id: str
    title: str
    description: str | None
    achievement_type: str | None
    issuer: Link
    issuer_description: str | None
    recipient: str | None
    criteria: list[str]
    criteria_url: str | None
    results: list[ResultLine]
    alignments: list[Link]
    tags: list[str]
    evidence: list[Link]
    dates: list[DateLine]
    status: Status
    checks: list[CheckLine]
    page_url: str
    image_url: str
    og_image_url: str
    linkedin_url: str
    downloads: dict[str, str] = field(default_factory=dict)
    verification_url: str = ""
    checked_at: DateLine | None = None
    wallet_copy: CopyNote | None = None
    is_badge: bool = True  # False: a verified plain VC, shown without an achievement
    proof: str | None = None  # the proof that verified (or the first), e.g. "eddsa-rdfc-2022", "VC-JWT RS256"
    verify_form_url: str = ""


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and _HTTP_URL.match(value) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _date(value: Any) -> datetime | None:
    try:
        return parse_xsd_datetime(value)
    except ValueError:
        return None


def format_date(value: datetime) -> str:
    """``29 November 2026`` — unambiguous in every locale (the page is in English)."""
    return f"{value.day} {value:%B %Y}"


def _date_line(label: str, value: datetime | None) -> DateLine | None:
    if value is None:
        return None
    return DateLine(label=label, iso=value.isoformat().replace("+00:00", "Z"), text=format_date(value))


def issuer_of(credential: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(display name, http(s) URL, description) of the credential's issuer."""
    issuer = credential.get("issuer")
    if isinstance(issuer, str):
        return issuer, _url(issuer), None
    issuer = _dict(issuer)
    name = _text(issuer.get("name")) or _text(issuer.get("id")) or "Unknown issuer"
    return name, _url(issuer.get("url")) or _url(issuer.get("id")), _text(issuer.get("description"))


def subject_of(credential: dict[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    return _dict(subject[0] if isinstance(subject, list) and subject else subject)


def achievement_of(credential: dict[str, Any]) -> dict[str, Any]:
    return _dict(subject_of(credential).get("achievement"))


def proof_label(report: VerificationReport) -> str | None:
    """The suite of the proof that verified, else of the first proof."""
    chosen = next((p for p in report.proofs if p.verified), None) or next(iter(report.proofs), None)
    return chosen.suite if chosen is not None else None


def title_of(credential: dict[str, Any]) -> str:
    return _text(achievement_of(credential).get("name")) or _text(credential.get("name")) or "Open Badge"


def recipient_name(credential: dict[str, Any]) -> str | None:
    """The recipient's display name if the credential states one: ``credentialSubject.name``, or an unhashed
    ``identifier`` of type ``name`` (the OB 3.0 way to carry a plain display name). Hashed ids stay hidden."""
    subject = subject_of(credential)
    if name := _text(subject.get("name")):
        return name
    for identity in _list(subject.get("identifier")):
        identity = _dict(identity)
        name = _text(identity.get("identityHash"))
        if identity.get("identityType") == "name" and identity.get("hashed") is False and name:
            return name
    return None


def status_of(report: VerificationReport) -> Status:
    """One verdict for people: a forged or broken credential is "Not verified" whatever its status list says;
    an authentic one is "Revoked"/"Suspended"/"Expired"/"Not yet valid" when that is its only problem."""
    failures = report.failures()
    if not failures and report.open_badge is False:
        # Authentic, but not a badge: an employer must not read it as an achievement.
        return Status(
            "verified-not-badge",
            "Verified credential — not an Open Badge",
            "The signature is valid and the issuer's key checks out, but this credential is not an Open Badge: "
            "it awards no achievement.",
        )
    if not failures:
        if any(c.check.startswith("status") and c.outcome == "skipped" for c in report.checks):
            return Status(
                "verified",
                "Verified",
                "The signature is valid and the issuer's key checks out; its revocation status was not checked.",
            )
        return Status(
            "verified",
            "Verified",
            "The signature is valid, the issuer's key checks out and the credential is in force.",
        )
    status_failures = [c for c in failures if c.check.startswith("status")]
    validity_failures = [c for c in failures if c.check == "validity"]
    other = [c for c in failures if c not in status_failures and c not in validity_failures]
    if other:
        return Status(
            "not-verified", "Not verified", "At least one check failed: this credential cannot be trusted as shown."
        )
    codes = " ".join(c.code for c in status_failures if c.outcome == "failed")
    if "revoked" in codes:
        return Status("revoked", "Revoked", "The issuer has revoked this credential.")
    if "suspend" in codes:
        return Status("suspended", "Suspended", "The issuer has suspended this credential.")
    if status_failures:
        return Status("not-verified", "Not verified", "The credential's status could not be confirmed.")
    if any(c.code == "validity.expired" for c in validity_failures):
        return Status("expired", "Expired", "The credential is authentic but its validity period has ended.")
    if any(c.code == "validity.not_yet_valid" for c in validity_failures):
        return Status("not-yet-valid", "Not yet valid", "The credential is authentic but not valid yet.")
    return Status("not-verified", "Not verified", "The credential's validity period could not be read.")


def _sentence(message: str) -> str:
    """Capitalise a plain first word ("signature is valid"), not a name ("eddsa-rdfc-2022 ...", "did:key:...")."""
    first = message.split(" ", 1)[0]
    return message[:1].upper() + message[1:] if first.isalpha() and first.islower() else message


def check_lines(report: VerificationReport) -> list[CheckLine]:
    lines = []
    for check in report.checks:
        label = CHECK_LABELS.get(check.check) or CHECK_LABELS.get(check.check.split(".")[0]) or check.check
        if check.check.startswith("structure.") and check.check not in CHECK_LABELS:
            label = f"Credential structure ({check.check.removeprefix('structure.')})"
        lines.append(
            CheckLine(
                name=check.check,
                label=label,
                outcome=check.outcome,
                outcome_text=_OUTCOME_WORDS.get(check.outcome, check.outcome),
                symbol=_OUTCOME_SYMBOLS.get(check.outcome, "•"),
                code=check.code,
                message=_sentence(check.message),
            )
        )
    return lines


def linkedin_add_url(
    *, name: str, organization: str, issued: datetime | None, expires: datetime | None, cert_url: str, cert_id: str
) -> str:
    """LinkedIn's "Add license or certification" link with every field it accepts filled in."""
    params: dict[str, str] = {"startTask": "CERTIFICATION_NAME", "name": name, "organizationName": organization}
    if issued is not None:
        params |= {"issueYear": str(issued.year), "issueMonth": str(issued.month)}
    if expires is not None:
        params |= {"expirationYear": str(expires.year), "expirationMonth": str(expires.month)}
    params |= {"certUrl": cert_url, "certId": cert_id}
    return f"{LINKEDIN_ADD_TO_PROFILE}?{urlencode(params)}"


def _results(subject: dict[str, Any], achievement: dict[str, Any]) -> list[ResultLine]:
    descriptions = {
        d.get("id"): _dict(d) for d in map(_dict, _list(achievement.get("resultDescription"))) if d.get("id")
    }
    lines = []
    for result in map(_dict, _list(subject.get("result"))):
        value = _text(result.get("value"))
        description = descriptions.get(result.get("resultDescription"), {})
        if value is None:
            value = _text(result.get("status"))
        if value is None:
            continue
        if description.get("resultType") == "Percent" and value.replace(".", "", 1).isdigit():
            value = f"{value}%"
        lines.append(ResultLine(name=_text(description.get("name")) or "Result", value=value))
    return lines


def _paragraphs(text: str | None) -> list[str]:
    if not text:
        return []
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def build_view(
    credential: dict[str, Any],
    report: VerificationReport,
    *,
    page_url: str,
    image_url: str,
    og_image_url: str,
    downloads: dict[str, str],
    verification_url: str,
    checked_at: datetime,
    verify_form_url: str = "",
) -> BadgeView:
    """Everything the badge page template needs, from the credential as issued and a fresh report."""
    subject = subject_of(credential)
    achievement = achievement_of(credential)
    issuer_name, issuer_url, issuer_description = issuer_of(credential)
    is_badge = report.open_badge is not False
    title = title_of(credential)
    if not is_badge:  # a plain VC has no achievement: name it by its own name or types
        types = [t for t in _list(credential.get("type")) if isinstance(t, str) and t != "VerifiableCredential"]
        title = _text(credential.get("name")) or " ".join(types) or "Verifiable Credential"
    awarded = _date(credential.get("awardedDate"))
    valid_from = _date(credential.get("validFrom")) or _date(credential.get("issuanceDate"))
    valid_until = _date(credential.get("validUntil")) or _date(credential.get("expirationDate"))
    criteria = _dict(achievement.get("criteria"))
    credential_id = _text(credential.get("id")) or page_url
    dates = [
        line
        for line in (
            _date_line("Awarded", awarded),
            _date_line("Valid from", valid_from),
            _date_line("Valid until", valid_until),
        )
        if line is not None
    ]
    return BadgeView(
        credential_id=credential_id,
        title=title,
        description=_text(achievement.get("description")) or _text(credential.get("description")),
        achievement_type=_text(achievement.get("achievementType")) if is_badge else "Not an Open Badge",
        issuer=Link(issuer_name, issuer_url),
        issuer_description=issuer_description,
        recipient=recipient_name(credential),
        criteria=_paragraphs(_text(criteria.get("narrative"))),
        criteria_url=_url(criteria.get("id")),
        results=_results(subject, achievement),
        alignments=[
            Link(_text(a.get("targetName")) or "Alignment", _url(a.get("targetUrl")))
            for a in map(_dict, _list(achievement.get("alignment")))
            if a
        ],
        tags=[t for t in map(_text, _list(achievement.get("tag"))) if t],
        evidence=[
            Link(_text(e.get("name")) or _text(e.get("description")) or "Evidence", _url(e.get("id")))
            for e in map(_dict, _list(credential.get("evidence")))
            if e
        ],
        dates=dates,
        status=status_of(report),
        checks=check_lines(report),
        page_url=page_url,
        image_url=image_url,
        og_image_url=og_image_url,
        linkedin_url=linkedin_add_url(
            name=title,
            organization=issuer_name,
            issued=awarded or valid_from,
            expires=valid_until,
            cert_url=page_url,
            cert_id=credential_id,
        ),
        downloads=downloads,
        verification_url=verification_url,
        is_badge=is_badge,
        proof=proof_label(report),
        verify_form_url=verify_form_url,
        checked_at=DateLine(
            label="Checked",
            iso=checked_at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            text=f"{format_date(checked_at.astimezone(UTC))}, {checked_at.astimezone(UTC):%H:%M} UTC",
        ),
    )
