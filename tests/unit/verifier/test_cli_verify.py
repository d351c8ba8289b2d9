"""`credstream verify FILE... [--doc URL=FILE] [--offline]`: one JSON line per file, exit 0 only if all verify."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.cli import main
from shared.credentials import (
    Profile,
    did_key,
    did_key_verification_method,
    public_key_multibase,
    sign_credential,
)
from shared.credentials.baking import bake_png
from tests.unit.credentials.samples import STATUS_LIST_URL, status_list_credential, with_status
from tests.unit.credentials.test_credentials_baking import tiny_png

DID = "did:web:uni.example:issuers:7"
CASES = Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases"


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def _write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything here is supplied: any network fetch is a test failure."""

    class Refuse:
        async def fetch(self, url: str) -> Any:
            raise AssertionError(f"{url} was fetched although every document was supplied")

    monkeypatch.setattr("services.verifier.files.build_fetcher", lambda _settings: Refuse())


def test_offline_files_with_documents(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    signed_credential: dict[str, Any],
    unsigned_credential: dict[str, Any],
    issuer_key: Ed25519PrivateKey,
    signed_at: datetime,
) -> None:
    did_doc = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DID,
        "verificationMethod": [
            {
                "id": f"{DID}#k",
                "type": "Multikey",
                "controller": DID,
                "publicKeyMultibase": public_key_multibase(issuer_key),
            }
        ],
        "assertionMethod": [f"{DID}#k"],
    }
    web = copy.deepcopy(unsigned_credential)
    web["issuer"] = Profile(id=DID, name="Uni").model_dump(exclude_none=True)
    web_signed = sign_credential(web, issuer_key, f"{DID}#k", signed_at)
    vm = did_key_verification_method(issuer_key)
    revoked = sign_credential(with_status(unsigned_credential, 5), issuer_key, vm, signed_at)
    status_list = sign_credential(
        status_list_credential(did_key(issuer_key), set_indices=(5,)), issuer_key, vm, signed_at, check_structure=False
    )
    files = [
        _write(tmp_path / "ok.json", signed_credential),
        _write(tmp_path / "web.json", web_signed),
        tmp_path / "baked.png",
    ]
    files[2].write_bytes(bake_png(tiny_png(), json.dumps(signed_credential)))
    docs = ["--doc", f"{DID}={_write(tmp_path / 'did.json', did_doc)}"]
    assert main(["verify", "--now", "2026-06-01T00:00:00Z", *docs, *map(str, files)]) == 0
    assert [line["verified"] for line in _lines(capsys)] == [True, True, True]

    list_doc = ["--doc", f"{STATUS_LIST_URL}={_write(tmp_path / 'list.json', status_list)}"]
    code = main(
        ["verify", "--offline", "--now", "2026-06-01T00:00:00Z", *list_doc, str(_write(tmp_path / "r.json", revoked))]
    )
    [line] = _lines(capsys)
    assert code == 1 and line["status"] == "revoked"
    assert {"check": "status", "outcome": "failed"}.items() <= next(
        c for c in line["checks"] if c["check"] == "status"
    ).items()


def test_unreadable_inputs_and_missing_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jwt = tmp_path / "c.jwt"
    jwt.write_text("eyJhbGciOiJSUzI1NiJ9.eyJ2YyI6e319.c2ln", encoding="utf-8")
    files = [str(tmp_path / "missing.json"), str(jwt), str(CASES / "simple.json")]
    assert main(["verify", "--offline", *files]) == 1
    missing, token, simple = _lines(capsys)
    assert missing["verified"] is False and "missing.json" in missing["error"]
    assert token["verified"] is False  # a VC-JWT, verified: its header names no key
    assert "proof.jwt_no_key" in {c["code"] for c in token["checks"]}
    key = next(c for c in simple["checks"] if c["check"] == "issuer.key")
    assert (key["outcome"], key["code"]) == ("undetermined", "issuer.key_unbound")
    assert main(["verify", "--offline", "--trust-named-keys", str(CASES / "simple.json")]) == 0
    capsys.readouterr()


def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", "--doc", "no-equals-sign", str(CASES / "simple.json")]) == 2
    assert main(["verify", "--now", "tomorrow", str(CASES / "simple.json")]) == 2
    assert "credstream verify" in capsys.readouterr().err


def test_clock_skew_is_configured_by_the_environment(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    signed_credential: dict[str, Any],
) -> None:
    """validUntil is 2027-01-01T00:00:00Z: one second later is within the default 5 minutes of skew."""
    path = _write(tmp_path / "badge.json", signed_credential)
    late = ["verify", "--offline", "--now", "2027-01-01T00:00:01Z", str(path)]
    assert main(late) == 0
    monkeypatch.setenv("CREDSTREAM_VERIFY_CLOCK_SKEW_SECONDS", "0")
    assert main(late) == 1
    assert "validity.expired" in {c["code"] for c in _lines(capsys)[-1]["checks"] if c["outcome"] == "failed"}


def test_a_status_list_credential_is_verified_and_not_an_open_badge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], issuer_key: Ed25519PrivateKey, signed_at: datetime
) -> None:
    unsigned = status_list_credential(did_key(issuer_key))
    signed = sign_credential(
        unsigned, issuer_key, did_key_verification_method(issuer_key), signed_at, check_structure=False
    )
    path = _write(tmp_path / "list.json", signed)
    assert main(["verify", "--offline", "--now", "2026-06-01T00:00:00Z", str(path)]) == 0
    [line] = _lines(capsys)
    assert line["verified"] is True and line["open_badge"] is False
    assert [c["code"] for c in line["checks"] if c["outcome"] == "not_applicable"] == ["ob.not_an_open_badge"]
