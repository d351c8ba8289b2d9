"""Differential tests: the fast JSON-LD path (cached contexts, jsonld_fast, one expansion) against plain pyld.

The reference is pyld itself with our cache patch taken off (``jsonld_cache.bypassed``): ``expand`` with
``base=None`` and ``normalize`` (URDNA2015 / RDFC-1.0). For every document the fast path must give the same
expanded JSON-LD, the same dropped terms and warnings (the safe-mode check) and the same canonical N-Quads,
or fail where pyld fails.

Documents: every credential shape we make, the 1EdTech vector, the 1EdTech validator cases, and generated
OB 3.0 credentials (Hypothesis): built through our models, and mutated into shapes the fast path does not
cover, so the fallback to pyld is exercised too. The generated tests run ``CREDSTREAM_DIFFERENTIAL_EXAMPLES``
examples each (default 150, about ten seconds);
``CREDSTREAM_DIFFERENTIAL_EXAMPLES=10000 pytest tests/unit/credentials/test_jsonld_fast_path.py`` is the
full run (several minutes).
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld as pyld_jsonld

from shared.credentials import (
    jsonld,
    jsonld_cache,
    jsonld_fast,
)
from shared.credentials.errors import CredentialError
from shared.credentials.jsonld_rdf import expanded_to_dataset
from shared.credentials.proof import make_proof_config
from shared.credentials.rdfc import canonicalize_dataset

from . import ob3_strategies
from .samples import fully_populated_credential, minimal_credential, status_list_credential, with_status

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VALIDATOR_CASES = Path(__file__).resolve().parents[2] / "fixtures" / "ob30-validator-cases"
ISSUER = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
EXAMPLES = int(os.environ.get("CREDSTREAM_DIFFERENTIAL_EXAMPLES", "150"))
GENERATED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LOADER = jsonld.DEFAULT_DOCUMENT_LOADER


# ----------------------------------------------------------------------------------------------------
# The reference and the comparison
# ----------------------------------------------------------------------------------------------------


def _has_inline_context(node: Any) -> bool:
    bundled = jsonld.bundled_context_urls()
    if isinstance(node, list):
        return any(_has_inline_context(item) for item in node)
    if not isinstance(node, dict):
        return False
    if "@context" in node:
        context = node["@context"]
        if not all(isinstance(c, str) and c in bundled for c in (context if isinstance(context, list) else [context])):
            return True
    return any(_has_inline_context(value) for value in node.values())


def _reference(doc: Any) -> tuple[list[Any], list[str | None], list[str], str] | Exception:
    """Plain pyld: expansion, dropped terms, warnings, canonical N-Quads — or the error it raises."""
    dropped: list[str | None] = []
    if _has_inline_context(doc):
        # A cold cache: pyld skips an inline context's warnings when it finds it already processed.
        # (Bundled contexts give no warnings; keeping them processed keeps 10,000 examples affordable.)
        pyld_jsonld._resolved_context_cache.clear()
    try:
        with jsonld_cache.bypassed(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            processor = pyld_jsonld.JsonLdProcessor(on_property_dropped=dropped.append)
            expanded = processor.expand(copy.deepcopy(doc), {"base": None, "documentLoader": LOADER})
            # pyld's own normalize writes control characters raw (not RDFC-1.0): the reference N-Quads are
            # our RDFC-1.0 (checked against the W3C suite in test_rdfc.py) over plain pyld's expansion.
            nquads = canonicalize_dataset(expanded_to_dataset(copy.deepcopy(expanded))).nquads
    except Exception as exc:  # the reference may fail any way pyld fails; the fast path must fail too
        return exc
    return expanded, dropped, [str(w.message) for w in caught], nquads


def assert_same_as_pyld(doc: Any) -> None:
    """The fast path gives pyld's expansion, dropped terms, warnings and canonical N-Quads, or fails too."""
    reference = _reference(doc)
    before = copy.deepcopy(doc)
    jsonld.forget_recent_expansions()
    if isinstance(reference, Exception):
        with pytest.raises(CredentialError):
            jsonld.canonical_nquads(doc, check_terms=False)
        return
    expanded, dropped, warned, nquads = reference
    fast = jsonld._expansion(doc, LOADER)
    assert json.dumps(fast.expanded) == json.dumps(expanded)
    assert list(fast.dropped) == dropped
    assert list(fast.warnings) == warned
    assert jsonld.expand(doc) == expanded
    assert jsonld.canonical_nquads(doc, check_terms=False) == nquads
    assert doc == before, "the fast path must not modify its input"


def assert_fast_path_covers(doc: Any) -> None:
    """Our own documents never fall back to pyld (else the speed-up silently disappears)."""
    jsonld_fast.expand(doc, LOADER, lambda _: None)
    jsonld_fast.statements(doc, LOADER)


def _proof_config(credential: dict[str, Any]) -> dict[str, Any]:
    config = make_proof_config(f"{ISSUER}#{ISSUER.removeprefix('did:key:')}", datetime(2026, 1, 1, tzinfo=UTC))
    return {**config, "@context": credential["@context"]}


# ----------------------------------------------------------------------------------------------------
# Every credential shape we make, the 1EdTech vector, the validator cases
# ----------------------------------------------------------------------------------------------------

OUR_SHAPES = {
    "minimal": minimal_credential(ISSUER),
    "fully populated": fully_populated_credential(ISSUER),
    "with status": with_status(minimal_credential(ISSUER), 42),
    "status list": status_list_credential(ISSUER, set_indices=(3, 77)),
    "proof config": _proof_config(minimal_credential(ISSUER)),
}


@pytest.mark.parametrize("name", sorted(OUR_SHAPES))
def test_our_credential_shapes(name: str) -> None:
    assert_same_as_pyld(OUR_SHAPES[name])
    assert_fast_path_covers(OUR_SHAPES[name])


def _issuer_credentials() -> dict[str, dict[str, Any]]:
    """What the issuer service builds: the simple and the every-field award, and its status list credential."""
    from services.issuer.domain import build_credential, issuer_profile
    from services.issuer.status import Slot, status_entry
    from shared.credentials.bitstring_status_list import StatusBits, status_list_credential

    from ..test_credential_building import NOW, full_passed, passed

    profile = issuer_profile(ISSUER, "acme", None)
    status = status_entry(Slot(1, 4242, "https://issuer.example.org/status-lists/acme/1"))
    return {
        "issuer simple": build_credential(passed(), issuer=profile, public_base_url="https://b.example", issued_at=NOW),
        "issuer every field": build_credential(
            full_passed(), issuer=profile, public_base_url="https://b.example", issued_at=NOW, status=status
        ),
        "issuer status list": status_list_credential(
            url="https://issuer.example.org/status-lists/acme/1",
            issuer=ISSUER,
            purpose="revocation",
            bits=StatusBits(),
            valid_from=NOW,
        ),
    }


@pytest.mark.parametrize("name", ["issuer simple", "issuer every field", "issuer status list"])
def test_issuer_service_shapes(name: str) -> None:
    credential = _issuer_credentials()[name]
    assert_same_as_pyld(credential)
    assert_same_as_pyld(_proof_config(credential))
    assert_fast_path_covers(_proof_config(credential))


def _unsecured(credential: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in credential.items() if k != "proof"}


def _proof_configs(credential: dict[str, Any]) -> list[dict[str, Any]]:
    proofs = credential.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs] if isinstance(proofs, dict) else []
    return [
        {**{k: v for k, v in p.items() if k != "proofValue"}, "@context": credential.get("@context")}
        for p in proofs
        if isinstance(p, dict)
    ]


def test_1edtech_vector() -> None:
    vector = json.loads((FIXTURES / "vectors" / "1edtech-ob3-eddsa-rdfc-2022.json").read_text("utf-8"))
    assert_same_as_pyld(_unsecured(vector))
    for config in _proof_configs(vector):
        assert_same_as_pyld(config)
    expected = (FIXTURES / "vectors" / "1edtech-ob3-document-canon.txt").read_text("utf-8")
    assert jsonld.canonical_nquads(_unsecured(vector)) == expected


VALIDATOR_FILES = sorted(p for p in VALIDATOR_CASES.rglob("*.json") if p.name != "manifest.json")


@pytest.mark.parametrize("path", VALIDATOR_FILES, ids=lambda p: str(p.relative_to(VALIDATOR_CASES)))
def test_validator_cases(path: Path) -> None:
    credential = json.loads(path.read_text("utf-8"))
    if not isinstance(credential, dict):
        pytest.skip("not a JSON-LD credential")
    assert_same_as_pyld(_unsecured(credential))
    for config in _proof_configs(credential):
        assert_same_as_pyld(config)


# ----------------------------------------------------------------------------------------------------
# Generated OB 3.0 credentials
# ----------------------------------------------------------------------------------------------------

text = st.text(max_size=40)
names = st.text(min_size=1, max_size=40)
iris = st.one_of(
    st.uuids().map(lambda u: f"urn:uuid:{u}"),
    st.from_regex(r"https://[a-z]{1,8}\.example/[a-z0-9/_-]{0,20}", fullmatch=True),
    st.sampled_from(["did:example:123", "mailto:someone@uni.example", "urn:isbn:0451450523"]),
)
dates = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=0)
)
numbers = st.one_of(st.integers(0, 10**6), st.floats(0, 1000, allow_nan=False).map(lambda f: round(f, 2)))


GENERATED_CREDENTIALS = ob3_strategies.credentials(
    ob3_strategies.Leaves(
        text=text,
        names=names,
        iris=iris,
        credential_ids=st.uuids().map(lambda u: f"urn:uuid:{u}"),
        emails=st.emails(),
        dates=dates,
        numbers=numbers,
        issuer=ISSUER,
    )
)


def model_credentials() -> st.SearchStrategy[dict[str, Any]]:
    """An OB 3.0 credential as our issuer builds them, with every optional field drawn."""
    return GENERATED_CREDENTIALS


@settings(GENERATED)
@given(model_credentials())
def test_generated_credentials_match_pyld(credential: dict[str, Any]) -> None:
    assert_same_as_pyld(credential)
    assert_same_as_pyld(_proof_config(credential))


@settings(GENERATED)
@given(model_credentials())
def test_generated_credentials_take_the_fast_path(credential: dict[str, Any]) -> None:
    """Everything our models emit is covered: none of it falls back to pyld."""
    assert_fast_path_covers(credential)
    assert_fast_path_covers(_proof_config(credential))


# Mutations: keys and values that take documents off the covered path (keywords, undefined terms, other
# contexts, odd values), so both the fast path's own refusals and pyld's fallback are compared with pyld.
KEYS = [
    "id",
    "type",
    "name",
    "description",
    "narrative",
    "tag",
    "achievementType",
    "allowedValue",
    "image",
    "issuer",
    "achievement",
    "credentialSubject",
    "evidence",
    "validFrom",
    "creditsAvailable",
    "jsonSchema",
    "undefinedTerm",
    "ex:term",
    "https://example.org/vocab#p",
    "_:b0",
    "@id",
    "@type",
    "@value",
    "@language",
    "@direction",
    "@list",
    "@set",
    "@index",
    "@context",
    "@nest",
    "@included",
    "@reverse",
    "@graph",
    "@foo",
]
TYPES = [
    "Achievement",
    "AchievementSubject",
    "Profile",
    "Image",
    "Result",
    "ResultDescription",
    "Alignment",
    "Evidence",
    "IdentityObject",
    "EndorsementCredential",
    "BitstringStatusListEntry",
    "DataIntegrityProof",
    "UnknownType",
    "@json",
    "_:t",
    "https://example.org/Type",
]
CONTEXTS = [
    *sorted(jsonld.bundled_context_urls()),
    "https://example.org/not-bundled",
    {"ex": "https://example.org/ex#"},
    {"@vocab": "https://example.org/vocab#"},
    {"@protected": True, "name": "https://example.org/name"},
    None,
]
scalars = st.one_of(
    text,
    iris,
    st.sampled_from(TYPES),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
        st.fixed_dictionaries({"type": st.sampled_from(TYPES)}, optional={"id": iris, "name": inner}),
        st.fixed_dictionaries({"@value": inner}, optional={"@language": st.sampled_from(["en", "EN-gb", ""])}),
        st.fixed_dictionaries({"@list": st.lists(inner, max_size=3)}),
    ),
    max_leaves=8,
)


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(o for v in node.values() for o in _objects(v))]
    if isinstance(node, list):
        return [o for item in node for o in _objects(item)]
    return []


@st.composite
def mutated_credentials(draw: st.DrawFn) -> dict[str, Any]:
    credential = copy.deepcopy(draw(model_credentials()))
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(_objects(credential)))
        action = draw(st.sampled_from(["set", "set", "type", "context", "delete"]))
        if action == "delete" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        elif action == "type":
            target["type"] = draw(st.one_of(st.sampled_from(TYPES), st.lists(st.sampled_from(TYPES), max_size=3)))
        elif action == "context":
            context = draw(st.one_of(st.sampled_from(CONTEXTS), st.lists(st.sampled_from(CONTEXTS), max_size=3)))
            target["@context"] = copy.deepcopy(context)  # later mutations must not edit the shared CONTEXTS
        else:
            target[draw(st.sampled_from(KEYS))] = draw(json_values)
    return credential


@settings(GENERATED)
@given(mutated_credentials())
def test_mutated_credentials_match_pyld(credential: dict[str, Any]) -> None:
    assert_same_as_pyld(credential)


# ----------------------------------------------------------------------------------------------------
# The cache itself
# ----------------------------------------------------------------------------------------------------


def test_bundled_contexts_are_processed_once() -> None:
    cache = jsonld_cache.installed()
    assert cache is not None, "pyld version not checked: update CHECKED_PYLD_VERSIONS after checking it"
    jsonld.forget_recent_expansions()
    jsonld.expand(fully_populated_credential(ISSUER))
    size = len(cache)
    jsonld.forget_recent_expansions()
    jsonld.expand(fully_populated_credential(ISSUER))
    assert len(cache) == size


def test_expansion_is_reused_for_the_same_document() -> None:
    jsonld.forget_recent_expansions()
    credential = minimal_credential(ISSUER)
    assert jsonld.expand(credential) is jsonld.expand(copy.deepcopy(credential))


def test_context_warnings_are_reported_every_time() -> None:
    """pyld warns about a reserved "@foo" term only while processing the context; every check must see it."""
    credential = {**minimal_credential(ISSUER), "evidence": {"@context": {"@foo": "urn:x"}, "name": "n"}}
    for _ in range(3):
        jsonld.forget_recent_expansions()
        assert any("reserved" in p for p in jsonld.find_safe_mode_violations(credential))


def test_repeated_empty_lists_as_pyld() -> None:
    """Found by the 10,000-example run: pyld keeps one rdf:nil statement per empty list, even when repeated."""
    achievement = {
        "@context": minimal_credential(ISSUER)["@context"],
        "id": "urn:uuid:eb1167b3-67a9-c378-7c65-c1e582e2e662",
        "type": ["Achievement"],
        "resultDescription": [
            {"id": "urn:isbn:0451450523", "type": ["ResultDescription"], "allowedValue": []},
            {"id": "urn:isbn:0451450523", "type": ["ResultDescription"], "allowedValue": []},
        ],
    }
    assert_same_as_pyld(achievement)


def test_list_under_a_blank_node_predicate_as_pyld() -> None:
    """Found by the 10,000-example run: no rdf:first/rest for a list whose statement pyld leaves out."""
    assert_same_as_pyld({**minimal_credential(ISSUER), "_:b0": {"@list": [{}, {"id": "urn:x:1", "name": "n"}]}})


def test_reuse_tells_python_types_apart() -> None:
    """A tuple is not a JSON-LD array to pyld; the reused expansion of the list form must not be returned."""
    jsonld.forget_recent_expansions()
    as_list = {"@context": "https://www.w3.org/ns/credentials/v2", "type": ["VerifiableCredential"]}
    as_tuple = {"@context": "https://www.w3.org/ns/credentials/v2", "type": ("VerifiableCredential",)}
    assert jsonld._EXPANSIONS.key(as_list, LOADER) != jsonld._EXPANSIONS.key(as_tuple, LOADER)


def test_caller_documents_are_not_cached() -> None:
    """A caller's loader may serve anything: its contexts are processed every time, its expansions not kept."""
    context_url = "https://example.org/caller-context"
    doc = {"@context": context_url, "name": "x"}
    first = jsonld.make_document_loader({context_url: {"@context": {"name": "https://example.org/a"}}})
    second = jsonld.make_document_loader({context_url: {"@context": {"name": "https://example.org/b"}}})
    assert jsonld.expand(doc, first)[0] == {"https://example.org/a": [{"@value": "x"}]}
    assert jsonld.expand(doc, second)[0] == {"https://example.org/b": [{"@value": "x"}]}
