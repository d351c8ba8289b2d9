"""Demo: the issuer's life-cycle operations — revoking a badge and rotating the signing key."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from services.embedded import EmbeddedStack
from shared.contracts import BadgeIssued, Topic

TENANT = "demo"


def _badges(stack: EmbeddedStack) -> list[BadgeIssued]:
    return [BadgeIssued.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_ISSUED))]


async def _report(stack: EmbeddedStack, credential_id: str) -> dict[str, Any]:
    response = await stack.http("verifier").get(f"/credentials/{credential_id}/verification")
    response.raise_for_status()
    return response.json()


async def revocation_and_rotation(
    stack: EmbeddedStack, admin: dict[str, str], lms: dict[str, str], start: datetime, say: Callable[[str], None]
) -> str:
    """Revoke one badge (the verifier then reports it revoked), then rotate the tenant's key: the next badge is
    signed with the new key and every earlier badge still verifies. Returns the revoked credential's id."""
    issuer = stack.http("issuer")
    say("\n— Revocation and key rotation —")
    target = next(b for b in _badges(stack) if (b.learner_id, b.achievement_id) == ("alice", "data-literacy"))
    response = await issuer.post(
        f"/v1/credentials/{target.credential_id}/revoke",
        json={"reason": "Awarded in error: the exam was re-marked"},
        headers=admin,
    )
    response.raise_for_status()
    await stack.settle()
    report = await _report(stack, target.credential_id)
    failed = [c["code"] for c in report["checks"] if c["outcome"] == "failed"]
    say(
        f"Revoked Alice's Data Literacy badge → verifier: verified={report['verified']}, "
        f"status={report.get('status')} ({', '.join(failed)})"
    )

    before = _badges(stack)
    old_method = before[0].credential["proof"]["verificationMethod"]
    response = await issuer.post(f"/v1/tenants/{TENANT}/keys/rotate", headers=admin)
    response.raise_for_status()
    keys = (await issuer.get(f"/v1/tenants/{TENANT}/keys", headers=admin)).json()["keys"]
    say(f"Rotated the demo tenant's signing key: {len(keys)} keys on record, the newest now signs")

    # Bilal retakes the Python project: his badge is the first signed with the new key.
    retake = {
        "tenant_id": TENANT, "learner_id": "bilal", "event_id": "score-bilal-python-quiz-retake", "kind": "scored",
        "assessment_id": "python-quiz", "score": 81, "max_score": 100,
        "occurred_at": (start + timedelta(minutes=5)).isoformat(),
    }  # fmt: skip
    response = await stack.http("enrollment").post("/v1/activities", json=retake, headers=lms)
    response.raise_for_status()
    await stack.settle()
    [new] = [b for b in _badges(stack) if b not in before]
    new_method = new.credential["proof"]["verificationMethod"]
    old_report = await _report(stack, before[0].credential_id)
    new_report = await _report(stack, new.credential_id)
    say(
        f"Bilal retook the quiz → Python Foundations, signed by the new key "
        f"({'a different' if new_method != old_method else 'THE SAME'} verification method): "
        f"verified={new_report['verified']}; Alice's first badge, signed before the rotation: "
        f"verified={old_report['verified']}"
    )
    return target.credential_id


async def status_lists(stack: EmbeddedStack, issued: list[BadgeIssued]) -> dict[str, dict[str, Any]]:
    """The signed status list credentials the badges point to, fetched from the issuer (URL -> document), so the
    written credentials can be checked offline: `credstream verify --doc URL=FILE ...`."""
    urls = {
        entry["statusListCredential"]
        for badge in issued
        for entry in _entries(badge.credential.get("credentialStatus"))
    }
    documents = {}
    for url in sorted(urls):
        response = await stack.http("issuer").get(urlsplit(url).path)
        response.raise_for_status()
        documents[url] = response.json()
    return documents


def _entries(status: Any) -> list[dict[str, Any]]:
    if isinstance(status, dict):
        return [status]
    return [entry for entry in status or [] if isinstance(entry, dict)]
