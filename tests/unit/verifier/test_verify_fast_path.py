"""Differential tests (issue 9): the fast full-verification path gives exactly the reference report.

The fast path reads each document in one pass when the one pass covers it (its statements give the signed
claims, the proof options and both hashes, and no separate safe-mode check runs), otherwise builds its RDF dataset
once for the same readers; it accepts the OB 3.0 schema with jsonschema-rs. The reference path is the same
verifier with those shortcuts off: no one pass, every reader builds its own dataset (none is remembered), and
``jsonschema`` alone judges the schema. Whatever the input — every credential shape we issue, re-keyed members,
the 1EdTech validator cases, hypothesis-mutated credentials — the two reports must be equal member for member
(verdict, every check's code and message, proofs).

``CREDSTREAM_DIFFERENTIAL_EXAMPLES=10000 pytest --timeout=0 tests/unit/verifier/test_verify_fast_path.py`` is the
full run (150 generated examples per test otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.verifier.files import InputError
from services.verifier.files import read_credential as read_credential_file
from services.verifier.pool import VerificationLimits, VerificationPool
from shared.credentials import (
    DidKeyResolver,
    DocumentSet,
    did_key,
    did_key_verification_method,
    graph,
    key_from_seed,
    schema,
    sign_credential,
    suites,
    verification,
)
from shared.credentials.graph import rdf_dataset
from shared.credentials.jsonld import expand
from shared.credentials.proof import proof_hashes
from shared.credentials.vcjwt import VcJwt
from tests.rekeying import FIELDS, FORMS, rekey
from tests.unit.credentials.samples import (
    fully_populated_credential,
    minimal_credential,
    status_list_credential,
    with_blank_node_clique,
    with_status,
    with_tags,
)
from tests.unit.credentials.test_jsonld_one_pass import GENERATED_CREDENTIALS
from tests.unit.verifier.test_verify_properties import json_values, mutated_credentials

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases"
MANIFEST: list[dict[str, Any]] = json.loads((CASES_DIR / "manifest.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 6, 1, tzinfo=UTC)
SIGNED_AT = datetime(2026, 1, 1, tzinfo=UTC)
KEY = key_from_seed(bytes(range(32)))
LIST_URL = "https://issuer.example/status/1"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
# As in tests/unit/credentials/test_jsonld_fast_path.py: CREDSTREAM_DIFFERENTIAL_EXAMPLES=10000 for the full run.
EXAMPLES = int(os.environ.get("CREDSTREAM_DIFFERENTIAL_EXAMPLES", "150"))
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@contextlib.contextmanager
def reference_path() -> Iterator[None]:
    """The verifier without the fast path: no one pass (each document is expanded and checked in safe mode),
    each reader builds its own RDF dataset; jsonschema alone checks."""
    with pytest.MonkeyPatch.context() as patch:
        read_credential, read_options = verification.read_credential, verification.read_proof_options
        check_signature = suites.check_ed25519_signature
        patch.setattr(schema, "_fast_accepts", lambda kind, credential: False)
        patch.setattr(verification, "readable_statements", lambda document, loader=None: None)
        patch.setattr(graph, "_DATASETS", graph._DatasetMemo(0))
        patch.setattr(verification, "read_credential", lambda expanded, dataset=None: read_credential(expanded))
        patch.setattr(verification, "read_proof_options", lambda expanded, dataset=None: read_options(expanded))
        patch.setattr(
            suites,
            "check_ed25519_signature",
            lambda *args, datasets=None, **kwargs: check_signature(*args, **kwargs),
        )
        yield


def both_reports(credential: Any, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    options = {"now": NOW, "resolver": DidKeyResolver(), **options}
    fast = verification.verify_credential(copy.deepcopy(credential), **options)
    with reference_path():
        reference = verification.verify_credential(copy.deepcopy(credential), **options)
    return fast.model_dump(), reference.model_dump()


def assert_same_report(credential: Any, **options: Any) -> dict[str, Any]:
    fast, reference = both_reports(credential, **options)
    assert fast == reference
    return fast


def signed(unsigned: dict[str, Any], at: datetime = SIGNED_AT, *, ob3: bool = True) -> dict[str, Any]:
    return sign_credential(unsigned, KEY, did_key_verification_method(KEY), at, check_structure=ob3)


def issued_shapes() -> dict[str, dict[str, Any]]:
    """Every credential shape we issue, signed: minimal, fully populated, with status, expired, not yet valid."""
    issuer = did_key(KEY)
    minimal = minimal_credential(issuer, "urn:uuid:0b5a4e1e-0d44-4a3c-9c1c-2a6f0e3d9b11")
    return {
        "minimal": signed(minimal),
        "full": signed(fully_populated_credential(issuer)),
        "status": signed(with_status(minimal, 5, url=LIST_URL)),
        "expired": signed({**minimal, "validUntil": "2026-02-01T00:00:00Z"}),
        "future": signed({**minimal, "validFrom": "2027-01-01T00:00:00Z"}),
        "created in the future": signed(minimal, at=NOW + timedelta(days=3)),
    }


def tampered(credential: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ways a holder tampers with a signed credential (each must fail the same way on both paths)."""
    renamed = copy.deepcopy(credential)
    renamed["name"] = "Something else"
    bad_signature = copy.deepcopy(credential)
    bad_signature["proof"]["proofValue"] = "z" + "1" * 86
    no_proof = {k: v for k, v in credential.items() if k != "proof"}
    two_proofs = {**credential, "proof": [credential["proof"], {**credential["proof"], "proofValue": "zjunk"}]}
    wrong_purpose = copy.deepcopy(credential)
    wrong_purpose["proof"]["proofPurpose"] = "authentication"
    undefined = {**credential, "undefinedTerm": 1}
    bad_iri = {**credential, "id": "not an iri"}
    return {
        "renamed": renamed,
        "bad signature": bad_signature,
        "no proof": no_proof,
        "two proofs": two_proofs,
        "wrong purpose": wrong_purpose,
        "undefined term": undefined,
        "bad iri": bad_iri,
    }


SHAPES = issued_shapes()


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_issued_shapes_and_their_tampered_copies(name: str) -> None:
    credential = SHAPES[name]
    list_credential = signed(status_list_credential(did_key(KEY), LIST_URL, set_indices=(5,)), ob3=False)
    report = assert_same_report(credential, documents=DocumentSet.of({LIST_URL: list_credential}))
    assert report["verified"] == (name == "minimal")  # "full" points at a status list not supplied
    for how, copy_ in tampered(credential).items():
        report = assert_same_report(copy_)
        # A junk proof beside the issuer's does not count against the credential (proof sets); the rest fail.
        assert how == "two proofs" or not report["verified"], how


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_issued_shapes_are_read_in_one_pass(name: str) -> None:
    # So the comparison above sets the one pass against the full path: the reference never takes it.
    credential = SHAPES[name]
    config = {k: v for k, v in credential["proof"].items() if k != "proofValue"}
    assert graph.readable_statements({k: v for k, v in credential.items() if k != "proof"}) is not None
    assert graph.readable_statements({**config, "@context": credential["@context"]}) is not None


def test_a_covered_credential_and_its_twin_the_one_pass_leaves_to_the_full_path() -> None:
    # The same statements spelt with a value object (which the one pass does not cover): the same verdict, and
    # each report equal to the reference's.
    covered = SHAPES["status"]
    twin = {**covered, "validFrom": {"@value": covered["validFrom"], "@type": XSD_DATETIME}}
    assert graph.readable_statements({k: v for k, v in twin.items() if k != "proof"}) is None
    covered_report, twin_report = assert_same_report(covered), assert_same_report(twin)
    assert [c for c in covered_report["checks"] if c["check"] == "proof.signature"] == [
        c for c in twin_report["checks"] if c["check"] == "proof.signature"
    ]


@pytest.mark.parametrize("size", [3, 7])
def test_blank_node_cliques_and_long_arrays(size: int) -> None:
    # The RDFC-1.0 work bound (data.too_complex) stops the hash of the shared dataset as it stops the reference's.
    report = assert_same_report(with_blank_node_clique(SHAPES["minimal"], size))
    assert ("data.too_complex" in {c["code"] for c in report["checks"]}) == (size == 7)
    assert_same_report(signed(with_tags(minimal_credential(did_key(KEY)), 2000)))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("field", FIELDS)
def test_rekeyed_members(field: str, form: str) -> None:
    assert not assert_same_report(rekey(SHAPES["status"], field, form))["verified"]


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda entry: entry["file"])
@pytest.mark.parametrize("trust_named_keys", [False, True])
def test_1edtech_validator_cases(entry: dict[str, Any], trust_named_keys: bool) -> None:
    try:
        credential = read_credential_file(CASES_DIR / entry["file"])
    except InputError:
        pytest.skip("not a readable credential")
    if isinstance(credential, VcJwt):
        pytest.skip("a VC-JWT: no embedded proof to compare fast and slow paths on")
    assert_same_report(credential, trust_named_keys=trust_named_keys)


@PROPERTY_SETTINGS
@given(mutated_credentials())
def test_mutated_credentials(credential: dict[str, Any]) -> None:
    assert_same_report(credential)


@PROPERTY_SETTINGS
@given(GENERATED_CREDENTIALS)
def test_generated_credentials_signed(credential: dict[str, Any]) -> None:
    # Every optional field our models emit, signed (by a key that is not the issuer's: the key check fails, every
    # other check runs): the one pass reads them all, the reference expands them.
    assert graph.readable_statements(credential) is not None
    assert_same_report(signed(credential, ob3=False))


# Where the schema's patterns look: IRIs and dates. Python's and ECMA-262's ``\S`` / ``\d`` / ``$`` differ.
_TRICKY = st.sampled_from(["\n", "\x1c", "\x1f", "\x85", "\xa0", "\u2028", "\ufeff", "\u0663", " ", "\t", ""])
pattern_texts = st.builds(
    lambda head, mid, tail: head + mid + tail,
    st.sampled_from(["urn:uuid:1", "https://x.example/a", "did:key:z6Mk", "2026-01-01T00:00:00Z", "x", "1:"]),
    _TRICKY,
    st.sampled_from(["", "b", "Z", "00", "\n"]),
)


@PROPERTY_SETTINGS
@given(
    st.sampled_from(["id", "validFrom", "validUntil", "issuer", "credentialSubject", "name", "type"]),
    pattern_texts | json_values,
)
def test_schema_accepts_exactly_what_jsonschema_accepts(member: str, value: Any) -> None:
    credential = copy.deepcopy(SHAPES["full"])
    target = credential["issuer"] if member == "issuer" else credential
    target["id" if member in ("issuer", "credentialSubject") else member] = value
    if member == "credentialSubject":
        credential["credentialSubject"]["achievement"]["id"] = value
    assert schema.schema_problems(credential) == schema.explained_schema_problems(credential)


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_proof_hash_of_shared_datasets_is_the_reference_hash(name: str) -> None:
    credential = SHAPES[name]
    config = {k: v for k, v in credential["proof"].items() if k != "proofValue"}
    config["@context"] = credential["@context"]
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    datasets = (rdf_dataset(expand(unsecured)), rdf_dataset(expand(config)))
    fast = proof_hashes(credential, check_terms=False, datasets=datasets)
    assert fast == proof_hashes(credential, check_terms=False)


async def test_verification_goes_to_the_worker_that_read_the_credential() -> None:
    pool = VerificationPool(VerificationLimits(workers=2))
    try:
        first, second = SHAPES["minimal"], SHAPES["full"]
        await asyncio.gather(pool.read_signed(first), pool.read_signed(second))
        reader = pool._read_by[id(first)]
        assert reader is not pool._read_by[id(second)]  # both workers are idle now
        ran_on: list[Any] = []
        assert await pool.call(os.getpid, prefer=reader, ran_on=ran_on) == reader.process.pid
        assert ran_on == [reader]
        report = await pool.verify(first, now=NOW, documents=DocumentSet())
        assert report.verified and id(first) not in pool._read_by
    finally:
        pool.close()
