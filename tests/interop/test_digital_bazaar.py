"""Cross-checks with Digital Bazaar's vc library (what the DCC Learner Credential Wallet runs), offline.

Needs ``node`` and ``npm ci`` in tests/interop. Contexts are served from shared/credentials/contexts on both
sides, did:key is resolved locally, nothing is fetched.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.credentials import (
    DidKeyResolver,
    StaticFetcher,
    UndefinedTermError,
    canonicalize,
    did_key,
    did_key_verification_method,
    generate_key,
    proof_hashes,
    sign_credential,
    verify_credential,
    verify_with_fetch,
)
from shared.credentials.multibase import encode_base58btc
from shared.credentials.proof import make_proof_config
from tests.unit.credentials.samples import (
    STATUS_LIST_URL,
    fully_populated_credential,
    minimal_credential,
    status_list_credential,
    with_status,
)

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent / "unit" / "credentials" / "fixtures" / "vectors"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
NOW_ISO = "2026-06-01T00:00:00Z"
SIGNED_AT = datetime(2026, 1, 1, tzinfo=UTC)

# Locally these skip without node or `npm ci`; in CI (CI=true) they must run, so they fail instead.
_LOCAL = not os.environ.get("CI")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(_LOCAL and shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(
        _LOCAL and not (HERE / "node_modules").is_dir(),
        reason="tests/interop/node_modules missing: run `npm ci` there (make test does)",
    ),
]

Tamper = Callable[[dict[str, Any]], None]


def _dbvc(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", str(HERE / "dbvc.mjs"), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def db_verify(paths: list[Path], *extra: str) -> dict[str, dict[str, Any]]:
    """Verify files with Digital Bazaar vc; return {file name: {verified, error}}."""
    lines = _dbvc("verify", "--now", NOW_ISO, *extra, *map(str, paths))
    return {Path(line["file"]).name: line for line in lines}


def our_verify(credential: dict[str, Any], now: datetime = NOW) -> set[str]:
    report = verify_credential(credential, resolver=DidKeyResolver(), now=now)
    return set() if report.verified else report.codes()


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def _set_achievement_name(c: dict[str, Any]) -> None:
    c["credentialSubject"]["achievement"]["name"] = "Leadership"


def _set_subject_id(c: dict[str, Any]) -> None:
    c["credentialSubject"]["id"] = "urn:uuid:00000000-0000-4000-8000-000000000000"


def _add_undefined_term(c: dict[str, Any]) -> None:
    c["credentialSubject"]["studentNumber"] = "12345"


def _wrong_fragment(c: dict[str, Any]) -> None:
    c["proof"]["verificationMethod"] = c["issuer"]["id"] + "#key-1"


def _other_issuer(c: dict[str, Any]) -> None:
    other = generate_key()
    c["issuer"]["id"] = did_key(other)
    c["proof"]["verificationMethod"] = did_key_verification_method(other)


def _undefined_term_in_proof(c: dict[str, Any]) -> None:
    c["proof"]["nonce2"] = "abc"


def _expire(c: dict[str, Any]) -> None:
    c["validUntil"] = "2026-02-01T00:00:00Z"


TAMPERINGS: dict[str, tuple[Tamper, str]] = {
    "achievement-name": (_set_achievement_name, "proof.signature_invalid"),
    "subject-id": (_set_subject_id, "proof.signature_invalid"),
    "undefined-term": (_add_undefined_term, "data.undefined_term"),
    "proof-undefined-term": (_undefined_term_in_proof, "data.undefined_term"),
    "wrong-vm-fragment": (_wrong_fragment, "issuer.verification_method_invalid"),
    "other-issuer-key": (_other_issuer, "proof.signature_invalid"),
    "expired": (_expire, "validity.expired"),
}


@pytest.fixture(scope="module")
def issuer_key() -> Ed25519PrivateKey:
    return generate_key()


@pytest.fixture(scope="module")
def ours_signed(issuer_key: Ed25519PrivateKey) -> dict[str, dict[str, Any]]:
    key = issuer_key
    vm = did_key_verification_method(key)
    return {
        "minimal": sign_credential(minimal_credential(did_key(key)), key, vm, SIGNED_AT),
        "full": sign_credential(fully_populated_credential(did_key(key)), key, vm, SIGNED_AT),
    }


REVOKED_INDEX = 94567  # the fully populated sample's statusListIndex
ACTIVE_INDEX = 7


def _signed_status_list(key: Ed25519PrivateKey, **kwargs: Any) -> dict[str, Any]:
    unsigned = status_list_credential(did_key(key), set_indices=(REVOKED_INDEX, 23), **kwargs)
    return sign_credential(unsigned, key, did_key_verification_method(key), SIGNED_AT, check_structure=False)


def _docs_index(directory: Path, documents: dict[str, dict[str, Any]]) -> Path:
    """Write documents and a {URL: file} index for `dbvc.mjs verify --docs`."""
    index = {}
    for i, (url, document) in enumerate(documents.items()):
        index[url] = _write(directory / f"doc-{i}.json", document).name
    return _write(directory / "docs.json", index)


@pytest.fixture(scope="module")
def db_signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    work = tmp_path_factory.mktemp("db-signed")
    signed = {}
    for name, build in (("minimal", minimal_credential), ("full", fully_populated_credential)):
        # Without credentialStatus: status is cross-checked separately, with lists signed by our issuer key.
        document = {k: v for k, v in build("did:key:placeholder").items() if k != "credentialStatus"}
        unsigned = _write(work / f"{name}-unsigned.json", document)
        out = work / f"{name}-signed.json"
        # created as of SIGNED_AT: a proof created after the time we verify at is refused (created in the future)
        _dbvc("sign", "--created", SIGNED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"), str(unsigned), str(out))
        signed[name] = json.loads(out.read_text(encoding="utf-8"))
    return signed


def test_digital_bazaar_verifies_our_credentials(
    ours_signed: dict[str, dict[str, Any]], issuer_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    paths = [_write(tmp_path / f"{name}.json", doc) for name, doc in ours_signed.items()]
    # The full sample carries a BitstringStatusListEntry: Digital Bazaar checks it against this list.
    docs = _docs_index(tmp_path, {STATUS_LIST_URL: _signed_status_list(issuer_key)})
    minimal = ours_signed["minimal"]
    active = sign_credential(
        with_status({k: v for k, v in minimal.items() if k != "proof"}, ACTIVE_INDEX),
        issuer_key,
        did_key_verification_method(issuer_key),
        SIGNED_AT,
    )
    paths.append(_write(tmp_path / "active.json", active))
    results = db_verify(paths, "--docs", str(docs))
    assert results["minimal.json"]["verified"], results
    assert results["active.json"]["verified"] and results["active.json"]["status"] == "active", results
    # full.json sits at the revoked index: see test_revoked_credential_rejected_by_both.
    assert results["full.json"]["status"] == "revoked", results


async def test_revoked_credential_rejected_by_both(
    ours_signed: dict[str, dict[str, Any]], issuer_key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    revoked = ours_signed["full"]
    status_list = _signed_status_list(issuer_key)
    report = await verify_with_fetch(revoked, StaticFetcher({STATUS_LIST_URL: status_list}), NOW)
    assert report.codes() == {"status.revoked"}
    assert report.status == "revoked"
    results = db_verify(
        [_write(tmp_path / "revoked.json", revoked)],
        "--docs",
        str(_docs_index(tmp_path, {STATUS_LIST_URL: status_list})),
    )
    assert results["revoked.json"]["verified"] is False
    assert results["revoked.json"]["status"] == "revoked"


async def test_status_list_of_another_issuer_is_refused_by_both(
    ours_signed: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Someone else's list must not decide this issuer's credential (Digital Bazaar: verifyMatchingIssuers)."""
    foreign = _signed_status_list(generate_key())
    report = await verify_with_fetch(ours_signed["full"], StaticFetcher({STATUS_LIST_URL: foreign}), NOW)
    assert report.codes() == {"status.issuer_mismatch"}
    assert report.status == "undetermined"
    docs = _docs_index(tmp_path, {STATUS_LIST_URL: foreign})
    results = db_verify([_write(tmp_path / "full.json", ours_signed["full"])], "--docs", str(docs))
    assert results["full.json"]["verified"] is False
    assert "do not match" in results["full.json"]["error"]


def test_reordered_hashes_rejected_by_both(issuer_key: Ed25519PrivateKey, tmp_path: Path) -> None:
    """A signature over hash(document) || hash(proof config) — the two hashes swapped — is not eddsa-rdfc-2022."""
    unsigned = minimal_credential(did_key(issuer_key))
    config = make_proof_config(did_key_verification_method(issuer_key), SIGNED_AT)
    hashes = proof_hashes(unsigned, proof_config=config)
    swapped = {
        **unsigned,
        "proof": {
            **config,
            "proofValue": encode_base58btc(issuer_key.sign(hashes.document_hash + hashes.proof_config_hash)),
        },
    }
    assert our_verify(swapped) == {"proof.signature_invalid"}
    results = db_verify([_write(tmp_path / "swapped.json", swapped)])
    assert results["swapped.json"]["verified"] is False


def test_we_verify_digital_bazaar_credentials(db_signed: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    for name, doc in db_signed.items():
        assert doc["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
        assert our_verify(doc) == set(), name
    # ...and Digital Bazaar agrees with itself under the same offline loader.
    paths = [_write(tmp_path / f"{name}.json", doc) for name, doc in db_signed.items()]
    assert all(r["verified"] for r in db_verify(paths).values())


@pytest.mark.parametrize("origin", ["ours", "db"])
def test_tampered_credentials_rejected_by_both(
    origin: str,
    ours_signed: dict[str, dict[str, Any]],
    db_signed: dict[str, dict[str, Any]],
    tmp_path: Path,
) -> None:
    source = (ours_signed if origin == "ours" else db_signed)["minimal"]
    paths = []
    for name, (tamper, expected_code) in TAMPERINGS.items():
        doc = copy.deepcopy(source)
        tamper(doc)
        assert expected_code in our_verify(doc), name
        paths.append(_write(tmp_path / f"{name}.json", doc))
    results = db_verify(paths)
    accepted = {name: r for name, r in results.items() if r["verified"]}
    assert not accepted, accepted
    assert "Safe mode" in results["undefined-term.json"]["error"]
    assert "Safe mode" in results["proof-undefined-term.json"]["error"]


def test_digital_bazaar_verifies_the_1edtech_vector() -> None:
    vector = VECTORS / "1edtech-ob3-eddsa-rdfc-2022.json"
    results = db_verify([vector], "--docs", str(VECTORS / "docs.json"))
    assert results[vector.name]["verified"], results


def test_canonical_nquads_identical_to_jsonld_js(ours_signed: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    vector = json.loads((VECTORS / "1edtech-ob3-eddsa-rdfc-2022.json").read_text(encoding="utf-8"))
    docs = {
        "vector": vector,
        **ours_signed,
        # Sibling blank nodes exercise RDFC-1.0 labelling (URGNA2012 would differ).
        **{
            f"evidence{n}": {
                "@context": ours_signed["minimal"]["@context"],
                "id": "https://e.org/1",
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "evidence": [{"type": ["Evidence"], "name": f"e{i}"} for i in range(n)],
            }
            for n in (3, 5)
        },
    }
    docs = {name: {k: v for k, v in doc.items() if k != "proof"} for name, doc in docs.items()}
    paths = [_write(tmp_path / f"{name}.json", doc) for name, doc in docs.items()]
    theirs = {Path(line["file"]).stem: line for line in _dbvc("canon", *map(str, paths))}
    for name, doc in docs.items():
        assert theirs[name]["error"] is None, theirs[name]
        assert canonicalize(doc) == theirs[name]["nquads"], name


@pytest.mark.parametrize(
    "tamper",
    [
        _add_undefined_term,
        lambda c: c["issuer"].update(type=["Profile", "Organization"]),
        lambda c: c["credentialSubject"]["achievement"]["image"].update(id="badge.png"),
        lambda c: c.update(credentialSchema=[{"id": "https://e.org/s.json", "type": "1EdTechJsonSchemaValidator2019"}]),
    ],
    ids=["undefined-term", "undefined-type", "relative-id", "credential-schema"],
)
def test_safe_mode_failures_agree(tamper: Tamper, ours_signed: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    doc = {k: v for k, v in copy.deepcopy(ours_signed["minimal"]).items() if k != "proof"}
    tamper(doc)
    [theirs] = _dbvc("canon", str(_write(tmp_path / "doc.json", doc)))
    assert theirs["error"] and "Safe mode" in theirs["error"], theirs
    with pytest.raises(UndefinedTermError):
        canonicalize(doc)


def test_demo_credentials_verify_in_digital_bazaar(tmp_path: Path) -> None:
    """What `make demo` writes is accepted by the verifier the DCC wallet runs, not only by ours."""
    from services.cli import main
    from tests.issuer_support import published_status_lists

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--data-dir", str(tmp_path / "data")]) == 0
    files = sorted(out.glob("*.json"))
    assert files
    # The credentials carry revocation status: hand Digital Bazaar the demo's status lists offline.
    lists = published_status_lists(tmp_path / "data", tmp_path / "lists")
    index = tmp_path / "lists" / "docs.json"
    index.write_text(json.dumps({url: path.name for url, path in lists.items()}), encoding="utf-8")
    results = {Path(line["file"]).name: line for line in _dbvc("verify", "--docs", str(index), *map(str, files))}
    assert all(result["verified"] for result in results.values()), results
