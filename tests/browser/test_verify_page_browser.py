"""The verify page as an employer uses it: headless Chromium pastes a VC-JWT into `GET /verify` (or uploads a baked
PNG holding one), submits the form and reads the badge page it gets back (Verified; a tampered token Not verified);
axe-core finds no accessibility violation on either page. Screenshots go to test-output/."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from shared.credentials.baking import bake_png
from tests.browser.conftest import ServedStack, browser_unavailable
from tests.browser.test_badge_page_browser import AXE, PageProblems
from tests.unit.credentials.test_credentials_baking import tiny_png
from tests.unit.credentials.test_credentials_vcjwt import make_case, pyjwt_sign

_UNAVAILABLE = browser_unavailable()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")]
AXE_TAGS = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']"


def signed_and_tampered() -> tuple[str, str, str]:
    """A VC-JWT of a did:key issuer (nothing to fetch), the same with a changed payload, and its badge's name."""
    key, header, claims = make_case("EdDSA")
    token = pyjwt_sign(key, header, claims)
    head, _, signature = token.split(".")
    forged = {**claims, "vc": {**claims["vc"], "name": "Forged badge"}}
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    return token, f"{head}.{payload}.{signature}", claims["vc"]["credentialSubject"]["achievement"]["name"]


async def paste(browser: Any, base_url: str, text: str, *, bypass_csp: bool = False) -> tuple[Any, Any, PageProblems]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
    page = await ctx.new_page()
    problems = PageProblems(page)
    response = await page.goto(f"{base_url}/verify", wait_until="load")
    assert response is not None and response.status == 200
    await page.get_by_label("Credential (JSON or VC-JWT)", exact=True).fill(text)
    async with page.expect_navigation(wait_until="load"):
        await page.get_by_role("button", name="Verify").click()
    return ctx, page, problems


async def assert_axe_clean(page: Any) -> None:
    await page.add_script_tag(path=str(AXE))
    results = await page.evaluate(f"() => axe.run(document, {{runOnly: {{type: 'tag', values: {AXE_TAGS}}}}})")
    violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]]
    assert violations == [], violations
    assert len(results["passes"]) > 20  # axe really ran


async def test_a_pasted_jwt_is_verified_and_a_tampered_one_is_not(
    served: ServedStack, browser: Any, output_dir: Path
) -> None:
    token, tampered, name = signed_and_tampered()
    ctx, page, problems = await paste(browser, served.base_url, token)
    verdict = page.get_by_test_id("verdict")
    assert await verdict.get_attribute("data-status") == "verified"
    assert await page.locator("h1").inner_text() == name
    checks = page.get_by_test_id("checks")
    assert await checks.locator('[data-check="proof.signature"]').get_attribute("data-outcome") == "passed"
    assert "VC-JWT EdDSA" in await page.locator("footer").inner_text()
    image = page.locator(".hero img")
    assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
    await page.screenshot(path=str(output_dir / "verify-page-jwt-verified.png"), full_page=True)
    problems.assert_none()
    await ctx.close()

    ctx, page, problems = await paste(browser, served.base_url, tampered)
    assert await page.get_by_test_id("verdict").get_attribute("data-status") == "not-verified"
    signature = page.get_by_test_id("checks").locator('[data-check="proof.signature"]')
    assert await signature.get_attribute("data-outcome") == "failed"
    await page.screenshot(path=str(output_dir / "verify-page-jwt-tampered.png"), full_page=True)
    problems.assert_none()
    await ctx.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core missing: `make browser-deps` (npm ci)")
async def test_the_verify_pages_have_no_accessibility_violations(served: ServedStack, browser: Any) -> None:
    token, _, _ = signed_and_tampered()
    ctx = await browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    form = await ctx.new_page()
    await form.goto(f"{served.base_url}/verify", wait_until="load")
    await assert_axe_clean(form)
    await ctx.close()
    ctx, page, problems = await paste(browser, served.base_url, token, bypass_csp=True)
    await assert_axe_clean(page)
    problems.assert_none()
    await ctx.close()


async def test_an_uploaded_baked_png_is_verified(served: ServedStack, browser: Any, output_dir: Path) -> None:
    token, _, name = signed_and_tampered()
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    problems = PageProblems(page)
    await page.goto(f"{served.base_url}/verify", wait_until="load")
    baked = {"name": "badge.png", "mimeType": "image/png", "buffer": bake_png(tiny_png(), token)}
    await page.get_by_label("Or choose a file", exact=False).set_input_files(baked)
    async with page.expect_navigation(wait_until="load"):
        await page.get_by_role("button", name="Verify").click()
    assert await page.get_by_test_id("verdict").get_attribute("data-status") == "verified"
    assert await page.locator("h1").inner_text() == name
    await page.screenshot(path=str(output_dir / "verify-page-upload-verified.png"), full_page=True)
    problems.assert_none()
    await ctx.close()
