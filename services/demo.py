"""`credstream demo`: the embedded stack through a scripted scenario, with a readable summary.

Several learners and achievements; some pass, some fail, one LMS event arrives twice, one record is malformed. A
scripted wallet claims a badge (services/demo_claiming.py), and a webhook receiver on 127.0.0.1 prints the signed
deliveries it verified (services/demo_webhooks.py).
"""

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.demo_awarding import AWARDING_ROWS, richer_awarding
from services.demo_claiming import CLAIM_PROTOCOLS, claim_into_wallet
from services.demo_issuance import revocation_and_rotation, status_lists
from services.demo_lms import LMS_LEARNERS, lms_sources
from services.demo_webhooks import WebhookReceiver, delivery_lines
from services.embedded import EmbeddedStack
from shared.contracts import BadgeIssued, BadgeRevoked, CloudEvent, LmsActivity, Topic, dead_letter_topic
from shared.credentials.keys import did_key, generate_key
from shared.messaging.records import OutboundRecord
from shared.settings import IssuerProfileConfig, Settings

TENANT = "demo"
ACHIEVEMENTS: list[dict[str, Any]] = [
    {
        "id": "python-foundations",
        "name": "Python Foundations",
        "description": "Writes, tests and debugs small Python programs.",
        "criteria": {
            "narrative": "Scored at least 70% on the Python quiz and 60% on the capstone project.",
            "required_assessments": [
                {"assessment_id": "python-quiz", "min_score": 70},
                {"assessment_id": "python-project", "min_score": 60},
            ],
        },
        "image": "https://badges.example.org/images/python-foundations.png",
        "achievement_type": "Competency",
    },
    {
        "id": "data-literacy",
        "name": "Data Literacy",
        "description": "Reads, questions and presents data with appropriate charts.",
        "criteria": {
            "narrative": "Scored at least 80% on the data literacy exam.",
            "required_assessments": [{"assessment_id": "data-exam", "min_score": 80}],
        },
        "achievement_type": "Competency",
    },
    {
        "id": "sql-essentials",
        "name": "SQL Essentials",
        "description": "Queries relational data with joins, grouping and window functions.",
        "criteria": {
            "narrative": "Scored at least 75% on the SQL practical.",
            "required_assessments": [{"assessment_id": "sql-practical", "min_score": 75}],
        },
        "achievement_type": "Competency",
    },
]

# (learner, display name, achievement enrolments, [(assessment, score, max)])
LEARNERS = [
    (
        "alice",
        "Alice Moreau",
        ["python-foundations", "data-literacy"],
        [("python-quiz", 88, 100), ("python-project", 42, 50), ("data-exam", 91, 100)],
    ),
    ("bilal", "Bilal Haddad", ["python-foundations"], [("python-quiz", 64, 100), ("python-project", 45, 50)]),
    (
        "chen",
        "Chen Wei",
        ["data-literacy", "sql-essentials"],
        [("data-exam", 72, 100), ("data-exam", 85, 100), ("sql-practical", 30, 40)],
    ),
    ("dana", "Dana Okafor", ["sql-essentials"], []),
]


def _activities(start: datetime) -> list[LmsActivity]:
    events: list[LmsActivity] = []
    clock = start
    for learner, name, enrolments, scores in LEARNERS:
        for achievement in enrolments:
            clock += timedelta(minutes=1)
            events.append(
                LmsActivity(
                    tenant_id=TENANT,
                    learner_id=learner,
                    learner_name=name,
                    event_id=f"enrol-{learner}-{achievement}",
                    kind="enrolled",
                    achievement_id=achievement,
                    occurred_at=clock,
                )
            )
        for attempt, (assessment, score, maximum) in enumerate(scores, start=1):
            clock += timedelta(minutes=7)
            events.append(
                LmsActivity(
                    tenant_id=TENANT,
                    learner_id=learner,
                    event_id=f"score-{learner}-{assessment}-{attempt}",
                    kind="scored",
                    assessment_id=assessment,
                    score=score,
                    max_score=maximum,
                    occurred_at=clock,
                )
            )
    return events


DEMO_ISSUER = IssuerProfileConfig(
    name="Northwind Academy (demo)",
    url="https://academy.example.org",
    description="A fictional school issuing credstream's demo badges.",
)


async def run_demo(settings: Settings, *, out: Path | None = None, data_dir: Path | None = None) -> int:
    if TENANT not in settings.issuers:  # an issuer profile from CREDSTREAM_ISSUERS wins
        settings = settings.model_copy(update={"issuers": {**settings.issuers, TENANT: DEMO_ISSUER}})
    # The demo's webhook receiver listens on plain http at 127.0.0.1, which the endpoint policy allows only for
    # development hosts listed here (the demo runs in development).
    insecure = ",".join(sorted(settings.insecure_hosts() | {"127.0.0.1"}))
    settings = settings.model_copy(update={"insecure_http_hosts": insecure})
    receiver = WebhookReceiver()
    with tempfile.TemporaryDirectory(prefix="credstream-demo-") as scratch:
        stack = EmbeddedStack(settings, data_dir or Path(scratch))
        await receiver.start()
        await stack.start()
        try:
            return await _scenario(stack, settings, out, receiver)
        finally:
            await stack.stop()
            await receiver.stop()


async def _scenario(stack: EmbeddedStack, settings: Settings, out: Path | None, receiver: WebhookReceiver) -> int:
    admin = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    lms_key = next(key for key, tenant in settings.lms_keys().items() if tenant == TENANT)
    lms = {"Authorization": f"Bearer {lms_key}"}
    say = print

    say("credstream demo — embedded mode (5 services, in-process transport, SQLite)\n")
    await receiver.subscribe(stack.http("webhooks"), TENANT, admin)
    for definition in ACHIEVEMENTS:
        response = await stack.http("assessment").put(
            f"/v1/tenants/{TENANT}/achievements/{definition['id']}", json=definition, headers=admin
        )
        response.raise_for_status()
    say(f"Defined {len(ACHIEVEMENTS)} achievements via the admin API: " + ", ".join(a["name"] for a in ACHIEVEMENTS))

    activities = _activities(datetime.now(UTC) - timedelta(hours=2))
    body = [json.loads(a.model_dump_json()) for a in activities]
    response = await stack.http("enrollment").post("/v1/activities", json=body, headers=lms)
    response.raise_for_status()
    receipt = response.json()
    say(f"LMS posted {len(activities)} activities over HTTP: {receipt['accepted']} accepted")

    # The LMS retries a delivery it thinks failed: the same event id again.
    duplicate = body[2]
    response = await stack.http("enrollment").post("/v1/activities", json=duplicate, headers=lms)
    response.raise_for_status()
    say(f"LMS re-sent event {duplicate['event_id']!r}: {response.json()['results'][0]['status']}")

    # Moodle and Canvas speak their own formats (xAPI, Caliper) through their own connections and mappings.
    await lms_sources(stack, admin, datetime.now(UTC) - timedelta(hours=1), say)
    await richer_awarding(stack, admin, lms, datetime.now(UTC) - timedelta(minutes=90), say)

    # Someone publishes garbage on the inbound topic: it must be dead-lettered, not block anything.
    ce = CloudEvent(source="lms://broken-plugin", type=LmsActivity.CE_TYPE)
    garbage = OutboundRecord(
        str(Topic.LMS_INBOUND), f"{TENANT}:x", b'{"tenant_id": "demo", "kind": "graded"}', ce.to_header_dict()
    )
    await stack.bus.publish([garbage])
    await stack.settle()

    issued = _announced(stack)
    verifier = stack.http("verifier")
    say("\nlearner         achievement          outcome")
    awarded = {(b.learner_id, b.achievement_id): b for b in issued}
    rows = [(learner, name, achievement) for learner, name, enrolments, _ in LEARNERS for achievement in enrolments]
    for learner, name, achievement in rows + LMS_LEARNERS + AWARDING_ROWS:
        badge = awarded.get((learner, achievement))
        if badge is None:
            say(f"{name:<15} {achievement:<20} not earned")
            continue
        report = (await verifier.get(f"/credentials/{badge.credential_id}/verification")).json()
        status = "VERIFIED" if report["verified"] else "NOT VERIFIED"
        say(f"{name:<15} {achievement:<20} badge issued, {status}  ({badge.credential_id})")

    dead = stack.bus.records(dead_letter_topic(str(Topic.LMS_INBOUND)))
    say(f"\nCredentials issued: {len(issued)} (the duplicate LMS event produced no second badge)")
    for record in dead:
        say(f"Dead-lettered on {dead_letter_topic(str(Topic.LMS_INBOUND))}: {record.headers['dlq_reason'][:110]}")

    tampered = json.loads(json.dumps(issued[0].credential))
    tampered["credentialSubject"]["achievement"]["name"] = "Rocket Science"
    report = (await verifier.post("/verify", json=tampered)).json()
    failed = [c["code"] for c in report["checks"] if c["outcome"] == "failed"]
    say(f"A tampered copy (achievement renamed) verifies: {report['verified']} — failed checks: {', '.join(failed)}")

    revoked = await revocation_and_rotation(stack, admin, lms, datetime.now(UTC) - timedelta(minutes=30), say)
    issued = _announced(stack)

    copies_verified = await _wallet(stack, admin, issued, out, say)
    webhooks_verified = await _webhooks(stack, receiver, say)

    if out is not None:
        everything = _announced(stack, copies=True)
        docs = _write_credentials(out, issued, await status_lists(stack, everything), {revoked})
        say(
            f"\nWrote {len(issued)} credentials to {out}/ (the revoked one to {out}/revoked/, the wallet's copies "
            f"to {out}/wallet/) and the status lists they use to {out}/status-lists/."
        )
        say(f"Check them offline: credstream verify --offline {' '.join(docs)} {out}/*.json {out}/wallet/*.json")
    return 0 if issued and not report["verified"] and copies_verified and webhooks_verified else 1


def _announced(stack: EmbeddedStack, *, copies: bool = False) -> list[BadgeIssued]:
    """The badges announced on badge-issued: the awards' credentials (and, with `copies`, wallets' copies too)."""
    announced = [BadgeIssued.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_ISSUED))]
    return [badge for badge in announced if copies or not badge.is_wallet_copy]


async def _wallet(
    stack: EmbeddedStack, admin: dict[str, str], issued: list[BadgeIssued], out: Path | None, say: Any
) -> bool:
    """Alice claims her Python Foundations badge into a scripted did:key wallet through every claim protocol."""
    badge = next(b for b in issued if (b.learner_id, b.achievement_id) == ("alice", "python-foundations"))
    holder = generate_key()
    protocols = ", ".join(name for name, _claim in CLAIM_PROTOCOLS)
    say(f"\nAlice claims her python-foundations badge into a wallet ({did_key(holder)[:20]}…) through: {protocols}")
    claimed = await claim_into_wallet(stack, admin, badge, holder, out)
    await stack.settle()
    verified = True
    for protocol, credential in claimed:
        copy_id = credential["id"].removeprefix("urn:uuid:")
        report = (await stack.http("verifier").get(f"/credentials/{copy_id}/verification")).json()
        verified = verified and report["verified"] and credential["credentialSubject"]["id"] == did_key(holder)
        say(
            f"  {protocol}: a copy bound to the wallet's DID, {'VERIFIED' if report['verified'] else 'NOT VERIFIED'}"
            f" ({credential['id']}, a copy of {badge.credential_id})"
        )
    return verified


async def _webhooks(stack: EmbeddedStack, receiver: WebhookReceiver, say: Any) -> bool:
    """Wait for the webhooks service to deliver every badge event of the tenant, and print them."""
    announced = _announced(stack, copies=True)
    revocations = [BadgeRevoked.model_validate_json(r.value) for r in stack.bus.records(str(Topic.BADGE_REVOKED))]
    arrived = await receiver.wait_for(len(announced) + len(revocations))
    names = {event.credential_id: f"{event.learner_id} / {event.achievement_id}" for event in announced}
    names |= {event.credential_id: f"{event.learner_id} / {event.achievement_id}" for event in revocations}
    say(
        f"\nWebhook receiver ({receiver.url}): {len(receiver.deliveries)} deliveries with a valid Standard Webhooks "
        f"signature (checked with the standardwebhooks library), {len(receiver.refused)} refused"
    )
    for line in delivery_lines(receiver.deliveries, lambda credential_id: names.get(credential_id, credential_id)):
        say(line)
    return arrived and not receiver.refused


def _write_credentials(out: Path, issued: list[BadgeIssued], documents: dict[str, Any], revoked: set[str]) -> list[str]:
    """Write the credentials and the status lists; returns the `--doc URL=FILE` arguments for the latter."""
    (out / "status-lists").mkdir(parents=True, exist_ok=True)
    arguments = []
    for number, (url, document) in enumerate(documents.items(), start=1):
        path = out / "status-lists" / f"list-{number}.json"
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        arguments.append(f"--doc {url}={path}")
    for badge in issued:
        folder = out / "revoked" if badge.credential_id in revoked else out
        folder.mkdir(exist_ok=True)
        path = folder / f"{badge.learner_id}-{badge.achievement_id}.json"
        path.write_text(json.dumps(badge.credential, indent=2) + "\n", encoding="utf-8")
    return arguments
