"""StatusList2021: Digital Bazaar's vc-status-list and ours read the same lists the same way, offline.

We sign (eddsa-rdfc-2022, did:key) a StatusList2021Credential with bits 5 and 7 set, and VC 1.1 credentials whose
StatusList2021Entry points at indexes 4, 5 and 7 (vc-status-list requires VC 1.1 as the first context, so these are
plain VCs, verified with profile="vc"). Both sides must agree on every bit, and both must refuse a list whose
encodedList was changed after signing.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.credentials import (
    DocumentSet,
    did_key,
    did_key_verification_method,
    key_from_seed,
    sign_credential,
    verify_credential,
)

HERE = Path(__file__).resolve().parent
_LOCAL = not os.environ.get("CI")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(_LOCAL and shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        _LOCAL and not (HERE / "node_modules" / "@digitalbazaar" / "vc-status-list").is_dir(),
        reason="tests/interop/node_modules missing: run `npm ci` there (make test does)",
    ),
]

VC_V1 = "https://www.w3.org/2018/credentials/v1"
SL2021 = "https://w3id.org/vc/status-list/2021/v1"
DATA_INTEGRITY = "https://w3id.org/security/data-integrity/v2"
LIST_URL = "https://uni.example/status/2021/1"
SIGNED_AT = datetime(2026, 1, 2, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY = key_from_seed(bytes(range(32)))
REVOKED = (5, 7)


def _encoded_list(*set_indexes: int) -> str:
    bits = bytearray(16_384)
    for index in set_indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    return base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0)).decode("ascii").rstrip("=")


def _sign(doc: dict[str, Any]) -> dict[str, Any]:
    return sign_credential(doc, KEY, did_key_verification_method(KEY), SIGNED_AT, check_structure=False)


def _status_list(encoded: str) -> dict[str, Any]:
    return _sign(
        {
            "@context": [VC_V1, SL2021, DATA_INTEGRITY],
            "id": LIST_URL,
            "type": ["VerifiableCredential", "StatusList2021Credential"],
            "issuer": did_key(KEY),
            "issuanceDate": "2026-01-01T00:00:00Z",
            "credentialSubject": {
                "id": f"{LIST_URL}#list",
                "type": "StatusList2021",
                "statusPurpose": "revocation",
                "encodedList": encoded,
            },
        }
    )


def _credential(index: int) -> dict[str, Any]:
    return _sign(
        {
            "@context": [VC_V1, SL2021, DATA_INTEGRITY],
            "id": f"urn:uuid:00000000-0000-4000-8000-{index:012d}",
            "type": ["VerifiableCredential"],
            "issuer": did_key(KEY),
            "issuanceDate": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:learner"},
            "credentialStatus": {
                "id": f"{LIST_URL}#{index}",
                "type": "StatusList2021Entry",
                "statusPurpose": "revocation",
                "statusListIndex": str(index),
                "statusListCredential": LIST_URL,
            },
        }
    )


def _digital_bazaar(folder: Path, credentials: list[dict[str, Any]], status_list: dict[str, Any]) -> list[Any]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "list.json").write_text(json.dumps(status_list), encoding="utf-8")
    (folder / "docs.json").write_text(json.dumps({LIST_URL: "list.json"}), encoding="utf-8")
    files = []
    for n, credential in enumerate(credentials):
        files.append(str(folder / f"credential-{n}.json"))
        Path(files[-1]).write_text(json.dumps(credential), encoding="utf-8")
    args = ["node", str(HERE / "dbstatus.mjs"), "--status-list-2021", "--docs", str(folder / "docs.json"), *files]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _ours(credential: dict[str, Any], status_list: dict[str, Any]) -> tuple[bool, str | None]:
    report = verify_credential(credential, now=NOW, profile="vc", documents=DocumentSet.of({LIST_URL: status_list}))
    return report.verified, report.status


def test_both_read_the_same_bits(tmp_path: Path) -> None:
    status_list = _status_list(_encoded_list(*REVOKED))
    credentials = [_credential(index) for index in (4, 5, 7)]
    theirs = _digital_bazaar(tmp_path, credentials, status_list)
    assert [(line["verified"], line["status"]) for line in theirs] == [(True, [False]), (True, [True]), (True, [True])]
    assert [_ours(c, status_list) for c in credentials] == [(True, "active"), (False, "revoked"), (False, "revoked")]


def test_both_refuse_a_list_changed_after_signing(tmp_path: Path) -> None:
    forged = copy.deepcopy(_status_list(_encoded_list(*REVOKED)))
    forged["credentialSubject"]["encodedList"] = _encoded_list()  # "nobody is revoked"
    credential = _credential(5)
    [theirs] = _digital_bazaar(tmp_path, [credential], forged)
    assert not theirs["verified"] and "not verified" in theirs["error"], theirs
    assert _ours(credential, forged) == (False, "undetermined")
