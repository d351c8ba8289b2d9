"""The learner's claim page in a real browser: Debian's Chromium (Playwright) on the issuer served by uvicorn.

The QR code is read back from a screenshot with zxing-cpp, so what a phone's camera sees is the deep link.
Screenshots go to test-output/.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from tests.badges import issue_badge
from tests.browser.conftest import ServedStack, browser_unavailable
from tests.browser.test_badge_page_browser import AXE, PageProblems

_UNAVAILABLE = browser_unavailable()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")]
AXE_TAGS = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']"


async def new_claim(served: ServedStack) -> dict[str, Any]:
    badge = await issue_badge(served.stack, learner="noor", learner_name="Noor Haddad")
    admin = {"Authorization": f"Bearer {served.stack.settings.admin_token.get_secret_value()}"}
    response = await served.stack.http("issuer").post(f"/v1/awards/{badge.award_id}/claims", headers=admin)
    assert response.status_code == 201, response.text
    link = response.json()
    assert link["claim_page_url"].startswith(f"{served.issuer_url}/claims/")
    return link


async def open_page(browser: Any, url: str, status: int, **context: Any) -> tuple[Any, Any, PageProblems]:
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    problems = PageProblems(page)
    response = await page.goto(url, wait_until="load")
    assert response is not None and response.status == status
    return ctx, page, problems


def decoded(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


async def test_the_claim_page_shows_the_button_and_a_qr_code_of_the_deep_link(
    served: ServedStack, browser: Any, output_dir: Path
) -> None:
    link = await new_claim(served)
    ctx, page, problems = await open_page(browser, link["claim_page_url"], 200)
    assert await page.title() == "Add “Data Storytelling” to your wallet · credstream"
    button = page.get_by_role("link", name="Add to wallet")
    assert await button.get_attribute("href") == link["deep_link"]
    https_form = page.get_by_role("link", name="Open the claim on the Learner Credential Wallet web page")
    assert await https_form.get_attribute("href") == link["https_link"]
    qr = page.locator("figure.qr svg")
    assert await qr.is_visible()
    assert decoded(await qr.screenshot()) == [link["deep_link"]]
    await page.screenshot(path=str(output_dir / "claim-page.png"), full_page=True)
    problems.assert_none()  # nothing blocked by the CSP, nothing fetched from elsewhere
    await ctx.close()

    # On a phone the QR code stays whole and readable.
    ctx, page, problems = await open_page(browser, link["claim_page_url"], 200, viewport={"width": 390, "height": 844})
    assert decoded(await page.locator("figure.qr svg").screenshot()) == [link["deep_link"]]
    await page.screenshot(path=str(output_dir / "claim-page-mobile.png"), full_page=True)
    problems.assert_none()
    await ctx.close()


async def test_a_used_claim_link_shows_a_clear_page(served: ServedStack, browser: Any, output_dir: Path) -> None:
    from services.demo_wallet import claim_over_vc_api
    from shared.credentials.keys import generate_key

    link = await new_claim(served)
    copy = await claim_over_vc_api(served.stack.http("issuer"), link["exchange_url"], generate_key())
    ctx, page, _problems = await open_page(browser, link["claim_page_url"], 409)
    assert await page.get_by_role("heading", level=1).inner_text() == "Badge already claimed"
    assert "Ask the organisation that awarded the badge" in await page.locator("main").inner_text()
    await page.screenshot(path=str(output_dir / "claim-page-used.png"), full_page=True)
    await ctx.close()

    # The wallet's copy has its own badge page, which says whose copy it is.
    await served.stack.settle()
    copy_page = f"{served.base_url}/credentials/{copy['id'].removeprefix('urn:uuid:')}"
    ctx, page, problems = await open_page(browser, copy_page, 200)
    assert "Wallet copy of the award" in await page.get_by_test_id("wallet-copy").inner_text()
    assert await page.get_by_test_id("verdict").get_attribute("data-status") == "verified"
    await page.screenshot(path=str(output_dir / "badge-page-wallet-copy.png"), full_page=True)
    problems.assert_none()
    await ctx.close()


@pytest.mark.skipif(
    not AXE.exists() and not os.environ.get("CI"), reason="axe-core missing: `make browser-deps` (npm ci)"
)
async def test_the_claim_page_has_no_accessibility_violations(served: ServedStack, browser: Any) -> None:
    link = await new_claim(served)
    for viewport in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
        # The page allows no scripts (CSP); only this test context lets axe in.
        ctx, page, problems = await open_page(browser, link["claim_page_url"], 200, bypass_csp=True, viewport=viewport)
        await page.add_script_tag(path=str(AXE))
        results = await page.evaluate(f"() => axe.run(document, {{runOnly: {{type: 'tag', values: {AXE_TAGS}}}}})")
        violations = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]]
        assert violations == [], violations
        assert len(results["passes"]) > 10  # axe really ran
        problems.assert_none()
        await ctx.close()
