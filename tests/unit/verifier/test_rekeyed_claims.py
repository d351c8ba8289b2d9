"""Issue 7 §1: a revoked, expired or not-yet-valid badge never verifies because its members were re-keyed.

Every form in :mod:`tests.rekeying` keeps the signed graph (the canonical N-Quads are unchanged, so the
signature still holds); the verifier must still find the revocation / validity window / issuer / types,
because it reads them from that graph, and it refuses the document because its JSON says something else.
Checked on the pure core here, and through ``credstream verify`` and ``POST /verify``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.cli import main
from services.runtime import Wiring
from services.verifier.entrypoint import build
from shared.credentials import (
    DocumentSet,
    StaticFetcher,
    canonicalize,
    did_key,
    did_key_verification_method,
    sign_credential,
    verify_credential,
)
from shared.db.engine import create_engine, session_factory
from shared.messaging.memory import InMemoryBus
from shared.settings import Settings
from tests.rekeying import FIELDS, FORMS, rekey
from tests.unit.credentials.samples import STATUS_LIST_URL, minimal_credential, status_list_credential, with_status

NOW_ISO = "2026-06-01T00:00:00Z"
REVOKED_INDEX, ACTIVE_INDEX = 5, 6
# field -> (which badge is re-keyed, the code its real defect must still produce; None: a sound badge).
ATTACKS: dict[str, tuple[str, str | None]] = {
    "credentialStatus": ("revoked", "status.revoked"),
    "validUntil": ("expired", "validity.expired"),
    "validFrom": ("future", "validity.not_yet_valid"),
    "issuer": ("active", None),
    "type": ("active", None),
}
CASES = [(field, form) for field in FIELDS for form in FORMS]
# VC 2.0 defines the credential's terms in the type-scoped context of VerifiableCredential: without a plain
# "type" member (a full-IRI rdf:type property; "@type" is not allowed under @nest) the rest of the graph is
# lost, so these two forms change the signed graph and are refused by the signature alone.
GRAPH_CHANGING = {("type", "full_iri"), ("type", "nest")}


def expected_codes(field: str, form: str) -> set[str]:
    """Codes a re-keyed badge must get: the mismatch, and the defect the badge really has."""
    if (field, form) in GRAPH_CHANGING:
        return {"proof.signature_invalid"}
    code = ATTACKS[field][1]
    return {"data.compact_form_mismatch"} | ({code} if code else set())


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def unsigned_badges(issuer_id: str, at: datetime) -> dict[str, dict[str, Any]]:
    """A revoked, an expired, a not-yet-valid and a sound badge as of ``at``, unsigned."""
    base = minimal_credential(issuer_id, "urn:uuid:0b5a4e1e-0d44-4a3c-9c1c-2a6f0e3d9b11")
    base = {**base, "validFrom": _iso(at - timedelta(days=150)), "validUntil": _iso(at + timedelta(days=200))}
    active = with_status(base, ACTIVE_INDEX)
    return {
        "revoked": with_status(base, REVOKED_INDEX),
        "expired": {**active, "validUntil": _iso(at - timedelta(days=90))},
        "future": {**active, "validFrom": _iso(at + timedelta(days=90))},
        "active": active,
    }


def signed_badges(issuer_key: Ed25519PrivateKey, at: datetime) -> dict[str, dict[str, Any]]:
    vm = did_key_verification_method(issuer_key)
    signed_at = at - timedelta(days=150)  # validFrom of the sound badge
    return {
        name: sign_credential(unsigned, issuer_key, vm, signed_at)
        for name, unsigned in unsigned_badges(did_key(issuer_key), at).items()
    }


def unsecured(credential: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in credential.items() if k != "proof"}


@pytest.fixture
def badges(issuer_key: Ed25519PrivateKey, now: datetime) -> dict[str, dict[str, Any]]:
    return signed_badges(issuer_key, now)


@pytest.fixture
def status_list(issuer_key: Ed25519PrivateKey, signed_at: datetime) -> dict[str, Any]:
    unsigned = status_list_credential(did_key(issuer_key), set_indices=(REVOKED_INDEX,))
    vm = did_key_verification_method(issuer_key)
    return sign_credential(unsigned, issuer_key, vm, signed_at, check_structure=False)


def test_the_badges_as_issued(badges: dict[str, dict[str, Any]], status_list: dict[str, Any], now: datetime) -> None:
    documents = DocumentSet.of({STATUS_LIST_URL: status_list})
    reports = {name: verify_credential(badge, now=now, documents=documents) for name, badge in badges.items()}
    assert reports["active"].verified, reports["active"].failures()
    for field, (name, code) in ATTACKS.items():
        if code is not None:
            assert reports[name].codes() == {code}, (field, reports[name].failures())


@pytest.mark.parametrize(("field", "form"), CASES)
def test_rekeyed_member_is_still_seen_and_refused(
    field: str, form: str, badges: dict[str, dict[str, Any]], status_list: dict[str, Any], now: datetime
) -> None:
    original = badges[ATTACKS[field][0]]
    attack = rekey(original, field, form)
    same_graph = canonicalize(unsecured(attack), check_terms=False) == canonicalize(
        unsecured(original), check_terms=False
    )
    # The attack is real: the signed graph, hence the signature, is unchanged.
    assert same_graph == ((field, form) not in GRAPH_CHANGING)
    report = verify_credential(attack, now=now, documents=DocumentSet.of({STATUS_LIST_URL: status_list}))
    assert not report.verified
    # Decided from the signed graph, not from the JSON: the badge's real defect is still found.
    assert expected_codes(field, form) <= report.codes(), report.failures()
    if same_graph:
        assert "proof.signature_invalid" not in report.codes()
    if field == "credentialStatus":
        assert report.status == "revoked"


def test_rekeyed_members_through_the_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    badges: dict[str, dict[str, Any]],
    status_list: dict[str, Any],
) -> None:
    files = []
    for field, form in CASES:
        path = tmp_path / f"{field}-{form}.json"
        path.write_text(json.dumps(rekey(badges[ATTACKS[field][0]], field, form)), encoding="utf-8")
        files.append(str(path))
    (tmp_path / "list.json").write_text(json.dumps(status_list), encoding="utf-8")
    args = ["verify", "--offline", "--now", NOW_ISO, "--doc", f"{STATUS_LIST_URL}={tmp_path / 'list.json'}"]
    assert main([*args, *files]) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == len(CASES)
    for line, (field, form) in zip(lines, CASES, strict=True):
        assert_refused(line, field, form)


@pytest.fixture
async def client(settings: Settings, status_list: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine("sqlite+aiosqlite://")
    wiring = Wiring(
        settings, session_factory(engine), InMemoryBus(), document_fetcher=StaticFetcher({STATUS_LIST_URL: status_list})
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build(wiring).http), base_url="http://v") as http:
        yield http
    await engine.dispose()


def assert_refused(report: dict[str, Any], field: str, form: str) -> None:
    """A JSON report (CLI line or HTTP body) of a re-keyed badge: not verified, with the expected codes."""
    codes = {c["code"] for c in report["checks"] if c["outcome"] in ("failed", "undetermined")}
    assert report["verified"] is False and expected_codes(field, form) <= codes, (field, form, report)


async def assert_refused_over_http(client: httpx.AsyncClient, badges: dict[str, dict[str, Any]]) -> None:
    """POST every re-keyed form of ``badges`` to /verify: each gets a report that refuses it."""
    for field, form in CASES:
        response = await client.post("/verify", json=rekey(badges[ATTACKS[field][0]], field, form))
        assert response.status_code == 200, response.text
        assert_refused(response.json(), field, form)


async def test_rekeyed_members_through_http(client: httpx.AsyncClient, issuer_key: Ed25519PrivateKey) -> None:
    await assert_refused_over_http(client, signed_badges(issuer_key, datetime.now(UTC)))  # verified as of now
