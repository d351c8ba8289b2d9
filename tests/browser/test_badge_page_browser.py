"""The badge page as a person sees it: headless Chromium (Debian's, via Playwright) on the real verifier app.

Each test leaves a full-page screenshot in the `output_dir` (test-output/) for review.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.credentials import (
    DidKeyResolver,
    did_key,
    did_key_verification_method,
    generate_key,
    sign_credential,
    verify_credential,
)
from shared.credentials.baking import extract_from_png, extract_from_svg
from tests.badges import ACHIEVEMENT, issue_badge, publish_credential
from tests.browser.conftest import ServedStack, browser_unavailable
from tests.unit.credentials.samples import fully_populated_credential

_UNAVAILABLE = browser_unavailable()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")]


class PageProblems:
    """Everything that would show up red in the browser's developer tools."""

    def __init__(self, page: Any) -> None:
        self.console: list[str] = []
        self.failed: list[str] = []
        page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: self.failed.append(f"{r.url}: HTTP {r.status}") if r.status >= 400 else None)

    def assert_none(self) -> None:
        assert self.console == [], self.console
        assert self.failed == [], self.failed


async def open_badge_page(browser: Any, url: str, **context: Any) -> tuple[Any, Any, PageProblems]:
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    problems = PageProblems(page)
    response = await page.goto(url, wait_until="load")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    return ctx, page, problems


async def test_badge_page_shows_verified_badge(served: ServedStack, browser: Any, output_dir: Path) -> None:
    badge = await issue_badge(served.stack)
    key = badge.credential_id.removeprefix("urn:uuid:")
    url = f"{served.base_url}/credentials/{key}"
    ctx, page, problems = await open_badge_page(browser, url, viewport={"width": 1280, "height": 900})

    verdict = page.get_by_test_id("verdict")
    assert await verdict.get_attribute("data-status") == "verified"
    assert "Verified" in await verdict.inner_text()
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.locator("h1").inner_text() == ACHIEVEMENT["name"]
    assert "Acme Academy" in await page.locator(".lede").inner_text()
    assert await page.get_by_test_id("recipient").count() in (0, 1)  # shown only if the credential names one
    body = await page.locator("main").inner_text()
    assert ACHIEVEMENT["criteria"]["narrative"] in body
    assert "92%" in body  # the project result, 46/50

    image = page.locator(".hero img")
    assert "Data Storytelling" in (await image.get_attribute("alt") or "")
    assert await image.evaluate("img => img.complete && img.naturalWidth > 0")

    checks = page.locator("[data-check]")
    outcomes = await checks.evaluate_all("items => items.map(i => [i.dataset.check, i.dataset.outcome])")
    assert {name for name, _ in outcomes} >= {"structure", "data.terms", "proof.signature", "issuer.key", "validity"}
    assert all(outcome in ("passed", "skipped") for _, outcome in outcomes), outcomes

    og = {
        prop: await page.locator(f'meta[property="{prop}"]').get_attribute("content")
        for prop in ("og:title", "og:description", "og:image", "og:url")
    }
    assert og["og:url"] == url
    assert og["og:image"] == f"{url}/image.png"
    assert ACHIEVEMENT["name"] in (og["og:title"] or "")
    assert (await page.request.get(og["og:image"])).headers["content-type"] == "image/png"

    linkedin = urlsplit(await page.get_by_test_id("linkedin").get_attribute("href") or "")
    fields = {k: v[0] for k, v in parse_qs(linkedin.query).items()}
    assert (linkedin.netloc, linkedin.path) == ("www.linkedin.com", "/profile/add")
    assert fields["startTask"] == "CERTIFICATION_NAME"
    assert fields["name"] == ACHIEVEMENT["name"]
    assert fields["organizationName"] == "Acme Academy"
    assert fields["certUrl"] == url
    assert fields["certId"] == badge.credential_id
    assert fields["issueYear"].isdigit() and 1 <= int(fields["issueMonth"]) <= 12

    await page.screenshot(path=str(output_dir / "badge-page-verified.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(output_dir / "badge-page-verified-mobile.png"), full_page=True)

    # Keyboard: the first Tab lands on the skip link; every link is reachable by Tab.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip-link"
    focused = set()
    for _ in range(30):
        await page.keyboard.press("Tab")
        focused.add(await page.evaluate("document.activeElement.textContent.trim()"))
    assert "Add to LinkedIn profile" in focused
    problems.assert_none()
    await ctx.close()


async def test_downloads_from_the_page_carry_a_verifiable_credential(served: ServedStack, browser: Any) -> None:
    badge = await issue_badge(served.stack)
    key = badge.credential_id.removeprefix("urn:uuid:")
    ctx, page, problems = await open_badge_page(browser, f"{served.base_url}/credentials/{key}")
    extractors = {
        "Badge image (PNG)": lambda data: json.loads(extract_from_png(data)),
        "Badge image (SVG)": lambda data: json.loads(extract_from_svg(data)),
        "Credential (JSON)": lambda data: json.loads(data),
    }
    for text, extract in extractors.items():
        async with page.expect_download() as pending:
            await page.get_by_role("link", name=text).click()
        download = await pending.value
        assert download.suggested_filename.startswith("data-storytelling-")
        data = await asyncio.to_thread(Path(await download.path()).read_bytes)
        credential = extract(data)
        assert credential == badge.credential, text
        assert verify_credential(credential, resolver=DidKeyResolver(), now=datetime.now(UTC)).verified, text
    problems.assert_none()
    await ctx.close()


async def test_badge_page_shows_an_expired_badge_with_every_field(
    served: ServedStack, browser: Any, output_dir: Path
) -> None:
    """A credential signed elsewhere (did:key) with every OB 3.0 field, whose validity ended: "Expired"."""
    key = generate_key()
    credential = fully_populated_credential(did_key(key))
    credential.pop("credentialStatus")  # its list lives on an unreachable example host
    credential.update(validFrom="2024-01-15T09:00:00Z", awardedDate="2024-01-15T09:00:00Z")
    credential["validUntil"] = "2025-01-15T09:00:00Z"
    credential["credentialSubject"]["name"] = "Ana Lima"
    signed = sign_credential(credential, key, did_key_verification_method(key), datetime(2024, 1, 15, tzinfo=UTC))
    path = await publish_credential(served.stack, signed)

    ctx, page, problems = await open_badge_page(
        browser, served.base_url + path, viewport={"width": 1280, "height": 900}
    )
    verdict = page.get_by_test_id("verdict")
    assert await verdict.get_attribute("data-status") == "expired"
    assert "Expired" in await verdict.inner_text()
    assert await page.get_by_test_id("recipient").inner_text() == "Ana Lima"
    assert await page.locator('[data-check="validity"]').get_attribute("data-outcome") == "failed"
    assert await page.locator('[data-check="proof.signature"]').get_attribute("data-outcome") == "passed"
    main = await page.locator("main").inner_text()
    for text in ("Data 101", "Data literacy", "statistics", "Final project", "87%", "15 January 2025"):
        assert text in main, text
    linkedin = parse_qs(urlsplit(await page.get_by_test_id("linkedin").get_attribute("href") or "").query)
    assert (linkedin["issueYear"], linkedin["issueMonth"]) == (["2024"], ["1"])
    assert (linkedin["expirationYear"], linkedin["expirationMonth"]) == (["2025"], ["1"])
    await page.screenshot(path=str(output_dir / "badge-page-expired.png"), full_page=True)
    problems.assert_none()
    await ctx.close()


AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.skipif(
    not AXE.exists() and not os.environ.get("CI"), reason="axe-core missing: `make browser-deps` (npm ci)"
)
async def test_badge_page_has_no_accessibility_violations(served: ServedStack, browser: Any) -> None:
    """axe-core's WCAG 2.0/2.1 A and AA rules and its best practices, on the rendered page (desktop and phone)."""
    badge = await issue_badge(served.stack)
    url = f"{served.base_url}/credentials/{badge.credential_id.removeprefix('urn:uuid:')}"
    # The page allows no scripts (CSP); only this test context lets axe in.
    for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
        ctx, page, problems = await open_badge_page(browser, url, bypass_csp=True, viewport=viewport)
        await page.add_script_tag(path=str(AXE))
        results = await page.evaluate(
            """() => axe.run(document, {runOnly: {type: 'tag',
                 values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"""
        )
        violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]]
        assert violations == [], violations
        assert len(results["passes"]) > 20  # axe really ran
        problems.assert_none()
        await ctx.close()


# After the merge the issuer-ob3 revoke API exists; the page shows "Revoked" once the verifier's report has a failing
# status check (verifier-any: BitstringStatusList check, or the badge-revoked read model) — the lead enables it.
async def test_badge_page_shows_revoked_after_a_revoke(served: ServedStack, browser: Any, output_dir: Path) -> None:
    stack = served.stack
    badge = await issue_badge(stack, learner="rui", learner_name="Rui Costa")
    key = badge.credential_id.removeprefix("urn:uuid:")
    admin = {"Authorization": f"Bearer {stack.settings.admin_token.get_secret_value()}"}
    # The issuer's admin API (issuer-ob3): sets the status list bit and emits credstream.badge-revoked.v1.
    response = await stack.http("issuer").post(
        f"/v1/credentials/{key}/revoke", json={"reason": "Issued in error"}, headers=admin
    )
    assert response.status_code == 200, response.text
    await stack.settle()

    ctx, page, problems = await open_badge_page(browser, f"{served.base_url}/credentials/{key}")
    verdict = page.get_by_test_id("verdict")
    assert await verdict.get_attribute("data-status") == "revoked"
    assert "Revoked" in await verdict.inner_text()
    await page.screenshot(path=str(output_dir / "badge-page-revoked.png"), full_page=True)
    problems.assert_none()
    await ctx.close()
