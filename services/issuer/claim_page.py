"""The claim page: what a learner opens from the claim link the LMS or an admin sent them (issue 11 §1).

It is served by the issuer, which owns the claim: the page shows the badge's summary, an "Add to wallet" button
with the `dccrequest://` deep link, the https form of it, and a QR code of the deep link (inline SVG) for a phone
wallet. Its URL carries the link's secret, so it is personal: never cached, never indexed, no referrer sent on. The
public badge page (verifier) only explains how to get such a link. No scripts; the stylesheet is allowed by hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import segno
from jinja2 import Environment

from services.issuer.wallet import ClaimLink, ClaimRefused
from shared.html_pages import scriptless_policy, templates

_TEMPLATES = Path(__file__).resolve().parent / "templates"
QR_TITLE = "QR code of the Add to wallet link"
# What a learner reads when the link cannot be used (ClaimRefused.code -> title, sentence).
_GONE = {
    "exchange.unknown": ("Claim link not found", "This claim link does not exist. Check that you opened all of it."),
    "exchange.completed": (
        "Badge already claimed",
        "This claim link was already used to add the badge to a wallet; each link works once.",
    ),
    "exchange.expired": ("Claim link expired", "This claim link has expired."),
    "revoked": ("Badge revoked", "The badge this link was for has been revoked; it can no longer be claimed."),
}


@dataclass(frozen=True)
class ClaimOffer:
    """What the claim page shows."""

    title: str
    issuer: str
    recipient: str | None
    description: str | None
    deep_link: str
    https_link: str
    exchange_url_host: str
    expires_text: str
    badge_page_url: str


def offer(link: ClaimLink, credential: dict[str, Any], badge_page_url: str) -> ClaimOffer:
    """The page's facts from the claim link and the award's credential (read defensively: any OB 3.0 shape)."""
    public = link.public()
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, dict) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, dict) else {}
    issuer = credential.get("issuer")
    issuer_name = issuer.get("name") or issuer.get("id") if isinstance(issuer, dict) else issuer
    return ClaimOffer(
        title=_text(achievement.get("name")) or "Open Badge",
        issuer=_text(issuer_name) or "the issuer",
        recipient=_text(subject.get("name")),
        description=_text(achievement.get("description")),
        deep_link=public["deep_link"],
        https_link=public["https_link"],
        exchange_url_host=urlsplit(link.exchange_url).netloc,
        expires_text=link.expires_at.strftime("%d %B %Y, %H:%M UTC").lstrip("0"),
        badge_page_url=badge_page_url,
    )


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def qr_svg(data: str) -> str:
    """A QR code of `data` as inline SVG (no style attribute: the page's CSP allows its one stylesheet only)."""
    return segno.make(data, error="m").svg_inline(scale=5, border=4, title=QR_TITLE, svgclass="qr-code")


@cache
def _environment() -> Environment:
    return templates(_TEMPLATES)


@cache
def stylesheet() -> str:
    return (_TEMPLATES / "claim.css").read_text(encoding="utf-8")


@cache
def headers() -> dict[str, str]:
    """No scripts, no remote resources, the stylesheet by hash; personal and single-use: never stored or indexed,
    and the URL (it holds the secret) is not sent on as a referrer."""
    return {
        "Content-Security-Policy": scriptless_policy(stylesheet(), images="data:"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Robots-Tag": "noindex, nofollow",
    }


def render_claim_page(claim: ClaimOffer) -> str:
    return (
        _environment().get_template("claim.html").render(offer=claim, qr_svg=qr_svg(claim.deep_link), css=stylesheet())
    )


def render_claim_gone(refusal: ClaimRefused) -> str:
    title, detail = _GONE.get(refusal.code, (refusal.title, str(refusal)))
    return _environment().get_template("claim_gone.html").render(title=title, detail=detail, css=stylesheet())
