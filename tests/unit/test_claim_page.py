"""The learner's claim page (issuer) and wallet copies known to the rest of the system: badge-issued announces a
copy as belonging to its award, the verifier serves it under that award, and revoking the award revokes it."""

import html
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.demo_wallet import claim_over_vc_api
from services.embedded import EmbeddedStack
from services.issuer import wallet
from services.issuer.claim_page import offer, qr_svg, render_claim_page
from services.issuer.wallet import ClaimLink
from shared.credentials.keys import did_key, generate_key
from shared.settings import Settings
from tests.issuer_support import ADMIN, earn, issued, start_stack

ISSUER_ORIGIN = "http://127.0.0.1:8004"
HTML = {"Accept": "text/html"}


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[EmbeddedStack]:
    embedded = await start_stack(settings, tmp_path)
    yield embedded
    await embedded.stop()


async def claim_link(stack: EmbeddedStack, award_id: Any, **body: Any) -> dict[str, Any]:
    response = await stack.http("issuer").post(f"/v1/awards/{award_id}/claims", json=body or None, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


async def open_page(stack: EmbeddedStack, link: dict[str, Any]) -> Any:
    return await stack.http("issuer").get(link["claim_page_url"].removeprefix(ISSUER_ORIGIN))


async def test_the_claim_page_offers_the_deep_link_and_its_qr_code(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "ada")
    link = await claim_link(stack, badge.award_id)
    secret = link["exchange_url"].rsplit("/", 1)[1]
    assert link["claim_page_url"] == f"{ISSUER_ORIGIN}/claims/{secret}"

    page = await open_page(stack, link)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy and "'unsafe-inline'" not in policy
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in page.headers["x-robots-tag"]
    body = page.text
    assert "Data Visualisation" in body and "<script" not in body
    assert f'href="{html.escape(link["deep_link"])}"' in body
    assert f'href="{html.escape(link["https_link"])}"' in body
    # The QR code is the deep link's, inline (no request for an image), with a text alternative.
    assert qr_svg(link["deep_link"]) in body and "<title>QR code" in body
    assert f"/credentials/{uuid.UUID(badge.credential_id.removeprefix('urn:uuid:'))}" in body

    # Opening the page changes nothing: the link still works once.
    holder = generate_key()
    copy = await claim_over_vc_api(stack.http("issuer"), link["exchange_url"], holder)
    assert copy["credentialSubject"]["id"] == did_key(holder)
    used = await open_page(stack, link)
    assert used.status_code == 409 and "Badge already claimed" in used.text
    assert used.headers["content-security-policy"] == policy


def test_the_qr_code_encodes_exactly_the_deep_link() -> None:
    deep_link = "dccrequest://request?issuer=did%3Akey%3Az6Mk&vc_request_url=https%3A%2F%2Fi.example%2Fexchanges%2Fs"
    svg = qr_svg(deep_link)
    assert svg.startswith("<svg") and "style=" not in svg  # the page's CSP allows no inline style
    assert segno.make(deep_link, error="m").svg_inline(scale=5, border=4) in svg.replace(
        ' class="qr-code"', ' class="segno"'
    ).replace("<title>QR code of the Add to wallet link</title>", "")


async def test_expired_unknown_and_revoked_claims_get_a_clear_page(
    stack: EmbeddedStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    badge = await earn(stack, "bo")
    expiring = await claim_link(stack, badge.award_id, expires_in_seconds=60)
    revoked = await claim_link(stack, badge.award_id)

    unknown = await stack.http("issuer").get("/claims/not-a-claim-link")
    assert unknown.status_code == 404 and "Claim link not found" in unknown.text

    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=2)
    with monkeypatch.context() as patch:
        patch.setattr(wallet, "_now", lambda: later)
        expired = await open_page(stack, expiring)
    assert expired.status_code == 410 and "Claim link expired" in expired.text

    response = await stack.http("issuer").post(
        f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Misconduct"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    gone = await open_page(stack, revoked)
    assert gone.status_code == 409 and "Badge revoked" in gone.text and "Traceback" not in gone.text


async def test_a_wallet_copy_is_announced_served_and_revoked_with_its_award(stack: EmbeddedStack) -> None:
    badge = await earn(stack, "cy")
    holder = generate_key()
    copy = await claim_over_vc_api(
        stack.http("issuer"), (await claim_link(stack, badge.award_id))["exchange_url"], holder
    )
    await stack.settle()

    (announced,) = [event for event in issued(stack) if event.is_wallet_copy]
    assert announced.credential == copy and announced.credential_id == copy["id"]
    assert announced.award_credential_id == badge.credential_id and announced.holder == did_key(holder)
    assert announced.award_id == badge.award_id and announced.learner_id == "cy"
    assert [event for event in issued(stack) if not event.is_wallet_copy] == [badge]  # still one award

    verifier = stack.http("verifier")
    copy_path = f"/credentials/{copy['id'].removeprefix('urn:uuid:')}"
    award_uuid = badge.credential_id.removeprefix("urn:uuid:")
    as_json = await verifier.get(copy_path)
    assert as_json.status_code == 200 and as_json.json() == copy
    assert as_json.headers["credstream-award-credential"] == badge.credential_id
    assert f"/credentials/{award_uuid}>" in as_json.headers["link"]
    assert "credstream-award-credential" not in (await verifier.get(f"/credentials/{award_uuid}")).headers

    page = (await verifier.get(copy_path, headers=HTML)).text
    assert 'data-testid="wallet-copy"' in page and f'href="{award_uuid}"' in page and did_key(holder) in page
    assert 'data-status="verified"' in page and 'data-testid="add-to-wallet"' not in page
    award_page = (await verifier.get(f"/credentials/{award_uuid}", headers=HTML)).text
    assert 'data-testid="add-to-wallet"' in award_page and "/claims/" not in award_page

    response = await stack.http("issuer").post(
        f"/v1/credentials/{badge.credential_id}/revoke", json={"reason": "Misconduct"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    await stack.settle()
    assert 'data-status="revoked"' in (await verifier.get(copy_path, headers=HTML)).text


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=12,
)
_HOSTILE = st.sampled_from(["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Ada & Bo", ""])


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    name=_HOSTILE | _JSON,
    issuer=_HOSTILE | _JSON,
    subject=_JSON,
    credential=st.dictionaries(st.sampled_from(["credentialSubject", "issuer", "id"]), _JSON, max_size=3),
)
def test_any_credential_shape_renders_an_escaped_claim_page(
    name: Any, issuer: Any, subject: Any, credential: dict[str, Any]
) -> None:
    link = ClaimLink(
        "https://i.example/exchanges/s",
        "https://i.example/claims/s",
        datetime(2026, 12, 8, tzinfo=UTC),
        "did:key:z",
        "c",
    )
    shapes = [
        credential,
        {"issuer": {"name": issuer}, "credentialSubject": {"name": name, "achievement": {"name": name}}},
        {"issuer": issuer, "credentialSubject": subject},
    ]
    for shape in shapes:
        page = render_claim_page(offer(link, shape, "https://v.example/credentials/x"))
        assert "<script" not in page and "<img" not in page  # text from the credential is escaped
        assert 'href="dccrequest://request?issuer=did%3Akey%3Az' in page
