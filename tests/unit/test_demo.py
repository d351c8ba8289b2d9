"""The embedded demo runs without Kafka or PostgreSQL and writes credentials that verify offline."""

import json
from pathlib import Path

import pytest

from services.cli import main


def test_demo_issues_verifiable_credentials(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "credentials"
    assert main(["demo", "--out", str(out), "--data-dir", str(tmp_path / "data")]) == 0
    summary = capsys.readouterr().out
    assert "Credentials issued: 9" in summary
    assert "Moodle (xAPI, Basic auth) posted 3 statements: 2 accepted, 1 ignored" in summary
    assert "Canvas (Caliper, HMAC-signed) posted 2 live events" in summary
    assert "duplicate" in summary
    assert "Dead-lettered" in summary
    files = sorted(out.glob("*.json"))
    assert [f.name for f in files] == [
        "alice-python-foundations.json",
        "bilal-python-foundations.json",
        "canvas-21070000000020064-canvas-optics.json",
        "chen-data-analyst.json",
        "chen-data-literacy.json",
        "chen-python-foundations.json",
        "chen-sql-essentials.json",
        "dana-presenter.json",
        "moodle-1042-moodle-engines.json",
    ]
    assert "Dana Okafor     presenter            badge issued" in summary  # rubric-graded
    assert "Bilal Haddad    presenter            not earned" in summary  # structure below the required level
    assert "Chen Wei        data-analyst         badge issued" in summary  # the three-badge pathway

    assert "Credentials issued: 9" in summary
    assert "Revoked Alice's Data Literacy badge → verifier: verified=False, status=revoked" in summary
    assert "signed by the new key (a different verification method): verified=True" in summary
    assert "signed before the rotation: verified=True" in summary

    # A scripted did:key wallet claimed Alice's badge through each claim protocol (VC-API exchange, OpenID4VCI):
    # one holder, one copy, whichever protocol it came through.
    oid4vci_file, vc_api_file = sorted((out / "wallet").glob("*.json"))
    assert (oid4vci_file.name, vc_api_file.name) == (
        "alice-python-foundations-oid4vci.json",
        "alice-python-foundations-vc-api.json",
    )
    copy = json.loads(vc_api_file.read_text())
    assert json.loads(oid4vci_file.read_text()) == copy
    original = json.loads((out / "alice-python-foundations.json").read_text())
    assert copy["credentialSubject"]["id"].startswith("did:key:z6Mk") and copy["id"] != original["id"]
    assert copy["credentialSubject"]["achievement"] == original["credentialSubject"]["achievement"]
    assert "  vc-api: a copy bound to the wallet's DID, VERIFIED" in summary
    assert "  oid4vci: a copy bound to the wallet's DID, VERIFIED" in summary

    # The webhook receiver got every badge event of the tenant, signatures checked with standardwebhooks.
    assert (
        "12 deliveries with a valid Standard Webhooks signature (checked with the standardwebhooks library), 0 "
        "refused" in summary
    )
    deliveries = [line.split() for line in summary.splitlines() if line.startswith("  badge.")]
    assert sorted(kind for kind, *_ in deliveries) == ["badge.issued"] * 11 + ["badge.revoked"]
    assert all(webhook_id.startswith("msg_") for _kind, webhook_id, *_ in deliveries)
    assert "alice / python-foundations (wallet copy)" in summary

    # The demo prints how to verify offline, with the status lists it wrote as --doc URL=FILE.
    [command] = [line for line in summary.splitlines() if line.startswith("Check them offline: credstream verify")]
    docs = [token for token in command.split()[5:] if not token.endswith("*.json")]
    assert main(["verify", *docs, *map(str, files), str(vc_api_file), str(oid4vci_file)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == len(files) + 2
    assert all(line["verified"] and line["status"] == "active" for line in lines)
    assert main(["verify", *docs, str(out / "revoked" / "alice-data-literacy.json")]) == 1
    [revoked] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert revoked["status"] == "revoked"

    tampered = tmp_path / "tampered.json"
    credential = json.loads(files[0].read_text())
    credential["credentialSubject"]["achievement"]["name"] = "Something else"
    tampered.write_text(json.dumps(credential))
    assert main(["verify", str(files[0]), str(tampered)]) == 1
