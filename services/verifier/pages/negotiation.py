"""HTTP content negotiation for the credential URL: one address, a page for people and JSON for machines."""

from __future__ import annotations

import re

VC_JSON = "application/vc+ld+json"
LD_JSON = "application/ld+json"
JSON = "application/json"
HTML = "text/html"
# Server preference when the client rates several equally; JSON first so `*/*` (curl, libraries) gets JSON.
OFFERED = (VC_JSON, LD_JSON, JSON, HTML)
# Link-preview crawlers often send `*/*` or no Accept at all, yet need the page (its OpenGraph tags).
FOR_PREVIEW_BOTS = (HTML, VC_JSON, LD_JSON, JSON)
_PREVIEW_BOTS = re.compile(
    r"LinkedInBot|facebookexternalhit|Facebot|Twitterbot|Slackbot|Discordbot|WhatsApp|TelegramBot|"
    r"SkypeUriPreview|Mastodon|redditbot|Applebot|Embedly|Pinterest|vkShare|Iframely",
    re.IGNORECASE,
)


def offered_for(user_agent: str | None) -> tuple[str, ...]:
    """The server's preference order for this client: the page first for link-preview crawlers."""
    return FOR_PREVIEW_BOTS if user_agent and _PREVIEW_BOTS.search(user_agent) else OFFERED


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if not media or "/" not in media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((media.lower(), q))
    return ranges


def _quality(offer: str, ranges: list[tuple[str, float]]) -> float:
    """q of the most specific range matching ``offer`` (RFC 9110 §12.5.1); 0 when none matches."""
    kind = offer.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for media, q in ranges:
        specificity = 2 if media == offer else 1 if media == f"{kind}/*" else 0 if media == "*/*" else -1
        if specificity > best[0]:
            best = (specificity, q)
    return best[1] if best[0] >= 0 else 0.0


def negotiate(accept: str | None, offered: tuple[str, ...] = OFFERED) -> str | None:
    """The offered media type the client prefers; ``offered[0]`` when there is no Accept header; None when
    the client accepts none of them (answer 406)."""
    if accept is None or not accept.strip():
        return offered[0]
    ranges = _ranges(accept)
    if not ranges:
        return offered[0]
    scored = [(_quality(offer, ranges), -index, offer) for index, offer in enumerate(offered)]
    q, _, offer = max(scored)
    return offer if q > 0 else None
