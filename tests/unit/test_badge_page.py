"""The badge page and downloads over HTTP (embedded stack, in-process ASGI), and the page's pure parts."""

from __future__ import annotations

import base64
import copy
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from services.embedded import EmbeddedStack
from services.verifier.pages.badge_image import BadgeArt, badge_images, generated_png, generated_svg
from services.verifier.pages.negotiation import HTML, JSON, LD_JSON, VC_JSON, negotiate, offered_for
from services.verifier.pages.routes import install_badge_pages
from services.verifier.pages.view import build_view, linkedin_add_url, recipient_name, status_of
from shared.contracts import BadgeIssued
from shared.credentials import CheckResult, DidKeyResolver, VerificationReport, verify_credential
from shared.credentials.baking import extract_from_png, extract_from_svg
from shared.http import install_problem_details
from tests.badges import ACHIEVEMENT, badge_settings, issue_badge

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
BASE = "https://badges.acme.example"


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = EmbeddedStack(badge_settings(CREDSTREAM_PUBLIC_BASE_URL=BASE), tmp_path)
    await embedded.start()
    yield embedded
    await embedded.stop()


@pytest.fixture
async def badge(stack: EmbeddedStack) -> BadgeIssued:
    return await issue_badge(stack)


def path_of(badge: BadgeIssued, suffix: str = "") -> str:
    return f"/credentials/{badge.credential_id.removeprefix('urn:uuid:')}{suffix}"


class Page(HTMLParser):
    """Just enough of an HTML reader to look at meta tags, links, images and text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.images: list[dict[str, str | None]] = []
        self.html_lang: str | None = None
        self.text: list[str] = []
        self._href: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "meta" and a.get("property"):
            self.meta[a["property"] or ""] = a.get("content") or ""
        elif tag == "img":
            self.images.append(a)
        elif tag == "a":
            self._href = a.get("href")

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())
            if self._href is not None:
                self.links[data.strip()] = self._href

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._href = None


# --- content negotiation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, VC_JSON),
        ("", VC_JSON),
        ("*/*", VC_JSON),
        ("application/json", JSON),
        ("application/ld+json", LD_JSON),
        ("application/vc+ld+json", VC_JSON),
        (BROWSER_ACCEPT, HTML),
        ("text/html;q=0.5, application/json", JSON),
        ("text/*", HTML),
        ("application/json;q=0, */*;q=0.1", VC_JSON),
        ("image/png", None),
        ("text/html;q=0", None),
    ],
)
def test_negotiate(accept: str | None, expected: str | None) -> None:
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    ("user_agent", "accept", "expected"),
    [
        ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", "*/*", HTML),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", None, HTML),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "application/json", JSON),
        ("curl/8.5.0", "*/*", VC_JSON),
        (None, None, VC_JSON),
    ],
)
def test_link_preview_crawlers_get_the_page(user_agent: str | None, accept: str | None, expected: str) -> None:
    assert negotiate(accept, offered_for(user_agent)) == expected


# --- over HTTP -----------------------------------------------------------------------------------------------


async def test_json_by_default_and_on_request(stack: EmbeddedStack, badge: BadgeIssued) -> None:
    verifier = stack.http("verifier")
    for accept, media_type in [(None, VC_JSON), ("*/*", VC_JSON), ("application/json", JSON), (LD_JSON, LD_JSON)]:
        headers = {"Accept": accept} if accept else {}
        response = await verifier.get(path_of(badge), headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type), accept
        assert "accept" in response.headers["vary"].lower()
        assert response.json() == badge.credential


async def test_unacceptable_media_type_is_a_problem(stack: EmbeddedStack, badge: BadgeIssued) -> None:
    response = await stack.http("verifier").get(path_of(badge), headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    assert VC_JSON in response.json()["available"]


async def test_badge_page_html(stack: EmbeddedStack, badge: BadgeIssued) -> None:
    response = await stack.http("verifier").get(path_of(badge), headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]  # default-src 'none': no scripts
    assert response.headers["cache-control"] == "no-cache"
    page = Page(response.text)
    url = f"{BASE}{path_of(badge)}"
    assert page.html_lang == "en"
    assert page.meta["og:url"] == url
    assert page.meta["og:image"] == f"{url}/image.png"
    assert page.meta["og:title"] == f"{ACHIEVEMENT['name']} — Acme Academy"
    assert ACHIEVEMENT["description"] in page.meta["og:description"]
    assert "<script" not in response.text
    [image] = page.images
    assert image["alt"] == f"Badge: {ACHIEVEMENT['name']}, issued by Acme Academy"
    assert image["src"] == f"{badge.credential_id.removeprefix('urn:uuid:')}/image.svg"
    text = " ".join(page.text)
    for expected in ("Verified", ACHIEVEMENT["name"], ACHIEVEMENT["criteria"]["narrative"], "Acme Academy", "92%"):
        assert expected in text
    assert page.links["Acme Academy"] == "https://academy.acme.example"
    linkedin = urlsplit(page.links["Add to LinkedIn profile"])
    fields = parse_qs(linkedin.query)
    assert fields["certUrl"] == [url] and fields["certId"] == [badge.credential_id]
    assert fields["organizationName"] == ["Acme Academy"] and fields["name"] == [ACHIEVEMENT["name"]]


async def test_unknown_credential(stack: EmbeddedStack) -> None:
    verifier = stack.http("verifier")
    missing = "/credentials/00000000-0000-4000-8000-000000000000"
    page = await verifier.get(missing, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 404 and "Credential not found" in page.text
    problem = await verifier.get(missing)
    assert problem.status_code == 404 and problem.headers["content-type"] == "application/problem+json"
    for suffix in ("/image.svg", "/download.png", "/download.json"):
        assert (await verifier.get(missing + suffix)).status_code == 404


async def test_downloads_are_baked_and_verify(stack: EmbeddedStack, badge: BadgeIssued) -> None:
    verifier = stack.http("verifier")
    stem = f"data-storytelling-{badge.credential_id.removeprefix('urn:uuid:')[:8]}"
    extractors = {
        "json": json.loads,
        "png": lambda data: json.loads(extract_from_png(data)),
        "svg": lambda data: json.loads(extract_from_svg(data)),
    }
    for ext, extract in extractors.items():
        response = await verifier.get(path_of(badge, f"/download.{ext}"))
        assert response.status_code == 200, ext
        assert response.headers["content-disposition"] == f'attachment; filename="{stem}.{ext}"'
        credential = extract(response.content)
        assert credential == badge.credential, ext
        assert verify_credential(credential, resolver=DidKeyResolver(), now=datetime.now(UTC)).verified, ext


async def test_badge_images(stack: EmbeddedStack, badge: BadgeIssued) -> None:
    verifier = stack.http("verifier")
    png = await verifier.get(path_of(badge, "/image.png"))
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = await verifier.get(path_of(badge, "/image.svg"))
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in svg.headers["content-security-policy"]
    root = ElementTree.fromstring(svg.content)
    assert ACHIEVEMENT["name"] in root.findtext("{http://www.w3.org/2000/svg}title", "")


# --- pages for other verdicts, with an injected verification report ----------------------------------------------


def _report(*failed: tuple[str, str]) -> VerificationReport:
    checks = [CheckResult(check="proof.signature", outcome="passed", code="ok", message="signature is valid")]
    checks += [CheckResult(check=c, outcome="failed", code=code, message=f"{code} happened") for c, code in failed]
    return VerificationReport(verified=not failed, checks=checks)


async def _page_with(credential: dict[str, Any], report: VerificationReport) -> str:
    app = FastAPI()
    install_problem_details(app)

    async def load(_credential_id: str) -> dict[str, Any]:
        return credential

    async def verify_stub(_credential: dict[str, Any]) -> VerificationReport:
        return report

    install_badge_pages(app, load=load, verify=verify_stub, public_base_url=BASE)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        response = await client.get("/credentials/x", headers={"Accept": "text/html"})
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize(
    ("failed", "status", "label"),
    [
        ((), "verified", "Verified"),
        ((("status", "status.revoked"),), "revoked", "Revoked"),
        ((("status", "status.suspended"),), "suspended", "Suspended"),
        ((("validity", "validity.expired"),), "expired", "Expired"),
        ((("validity", "validity.not_yet_valid"),), "not-yet-valid", "Not yet valid"),
        ((("proof.signature", "proof.signature_invalid"),), "not-verified", "Not verified"),
        # A forged credential is "Not verified" whatever its status list says.
        (
            (("proof.signature", "proof.signature_invalid"), ("status", "status.revoked")),
            "not-verified",
            "Not verified",
        ),
        ((("status", "status.revoked"), ("validity", "validity.expired")), "revoked", "Revoked"),
    ],
)
async def test_page_verdicts(badge: BadgeIssued, failed: tuple[tuple[str, str], ...], status: str, label: str) -> None:
    html = await _page_with(badge.credential, _report(*failed))
    assert f'data-status="{status}"' in html
    assert f'<span class="verdict-label">{label}</span>' in html
    for _check, code in failed:
        assert f"{code} happened" in html


async def test_page_escapes_credential_text(badge: BadgeIssued) -> None:
    credential = copy.deepcopy(badge.credential)
    credential["credentialSubject"]["achievement"]["name"] = '<script>alert("x")</script>'
    credential["credentialSubject"]["name"] = "Ana <b>Lima</b>"
    credential["issuer"]["url"] = "javascript:alert(1)"
    html = await _page_with(credential, _report())
    assert "<script>" not in html and "<b>Lima" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "javascript:" not in html  # only http(s) URLs become links


def test_recipient_name() -> None:
    assert recipient_name({"credentialSubject": {"name": "Ana Lima"}}) == "Ana Lima"
    named = {"identityType": "name", "hashed": False, "identityHash": "Ana Lima"}
    hashed = {"identityType": "emailAddress", "hashed": True, "identityHash": "sha256$00"}
    assert recipient_name({"credentialSubject": {"identifier": [hashed, named]}}) == "Ana Lima"
    assert recipient_name({"credentialSubject": {"identifier": [hashed]}}) is None
    assert recipient_name({"credentialSubject": "nonsense"}) is None


def test_linkedin_url_fields() -> None:
    url = linkedin_add_url(
        name="Data & AI",
        organization="Acme",
        issued=datetime(2026, 3, 5, tzinfo=UTC),
        expires=datetime(2028, 11, 1, tzinfo=UTC),
        cert_url="https://v.example/credentials/1",
        cert_id="urn:uuid:1",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.linkedin.com/profile/add"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "startTask": "CERTIFICATION_NAME",
        "name": "Data & AI",
        "organizationName": "Acme",
        "issueYear": "2026",
        "issueMonth": "3",
        "expirationYear": "2028",
        "expirationMonth": "11",
        "certUrl": "https://v.example/credentials/1",
        "certId": "urn:uuid:1",
    }


def test_view_tolerates_a_sparse_foreign_credential() -> None:
    credential = {"issuer": "https://issuer.example", "credentialSubject": [{"achievement": {"name": "X"}}]}
    view = build_view(
        credential,
        _report(),
        page_url=f"{BASE}/credentials/x",
        image_url="x/image.svg",
        og_image_url=f"{BASE}/credentials/x/image.png",
        downloads={},
        verification_url="x/verification",
        checked_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert (view.title, view.issuer.text, view.issuer.url, view.dates) == (
        "X",
        "https://issuer.example",
        "https://issuer.example",
        [],
    )
    assert status_of(_report()).label == "Verified"


def test_badge_images_use_inline_images_else_a_generated_medal() -> None:
    art = BadgeArt(key="k", title="Teamwork", issuer="Example University")
    png = generated_png(BadgeArt(key="other", title="Other", issuer="Elsewhere"))
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle r="4"/></svg>'
    png_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    svg_uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()

    from_png = badge_images(art, [{"id": png_uri, "type": "Image"}])
    assert (from_png.generated, from_png.png) == (False, png)
    assert png_uri.encode() in from_png.svg  # the SVG form wraps the issuer's PNG
    from_svg = badge_images(art, [svg_uri])
    assert (from_svg.generated, from_svg.svg) == (False, svg)
    for unusable in (["https://uni.example/badge.png"], ["data:image/png;base64,bm90IGEgcG5n"], [None], []):
        images = badge_images(art, unusable)
        assert images.generated and images.svg == generated_svg(art) and images.png.startswith(b"\x89PNG")


def test_a_verified_plain_vc_is_never_shown_as_a_badge() -> None:
    report = _report().model_copy(update={"open_badge": False})
    status = status_of(report)
    assert (status.key, status.label) == ("verified-not-badge", "Verified credential — not an Open Badge")
    forged = _report(("proof.signature", "proof.signature_invalid")).model_copy(update={"open_badge": False})
    assert status_of(forged).key == "not-verified"
