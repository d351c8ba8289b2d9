"""Differential tests: the one-pass JSON-LD -> RDF path (``jsonld_fast.statements`` + RDFC-1.0 on term texts)
against the reference — pyld's own ``expand`` and ``to_rdf`` (public API), canonicalised by RDFC-1.0 over the
dataset pyld gives (and, where pyld's URDNA2015 writes the same bytes, pyld's ``normalize`` too).

The canonical N-Quads must be identical for every credential shape we make (issuer output, status list
credentials, proof configurations), the 1EdTech vector, the 1EdTech validator cases, the W3C RDFC-1.0 suite and
10,000 generated OB 3.0 credentials. Documents the one-pass path does not take (safe-mode violations, JSON-LD it
does not cover) must still be refused or canonicalised exactly as before: generated mutations check that whenever
the one-pass path answers, safe mode has nothing to report.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld as pyld_jsonld

from shared.credentials import (
    jsonld,
    jsonld_fast,
)
from shared.credentials.errors import CredentialError, UndefinedTermError
from shared.credentials.jsonld_rdf import expanded_to_dataset
from shared.credentials.rdf import BlankNode, Iri, Literal, Quad, parse_nquads, quad_terms
from shared.credentials.rdfc import canonicalize_dataset, canonicalize_term_quads

from . import ob3_strategies
from . import test_jsonld_fast_path as shapes
from .test_rdfc import HASHES, MANIFEST, SUITE

LOADER = jsonld.DEFAULT_DOCUMENT_LOADER
RDF_OPTIONS = {"base": None, "documentLoader": LOADER, "produceGeneralizedRdf": False}


def _pyld_term(term: dict[str, Any]) -> Iri | BlankNode | Literal:
    if term["type"] == "IRI":
        return Iri(term["value"])
    if term["type"] == "blank node":
        return BlankNode(term["value"][2:])
    return Literal(term["value"], term["datatype"], term.get("language"))


def _graph_name(name: str) -> Iri | BlankNode:
    return BlankNode(name[2:]) if name.startswith("_:") else Iri(name)


def reference_nquads(doc: Any) -> str:
    """pyld ``expand`` + ``to_rdf`` (its public API, base None), canonicalised with RDFC-1.0."""
    expanded = pyld_jsonld.expand(copy.deepcopy(doc), {"base": None, "documentLoader": LOADER})
    dataset = pyld_jsonld.to_rdf(expanded, RDF_OPTIONS)
    quads = [
        Quad(
            _pyld_term(t["subject"]),  # type: ignore[arg-type]
            Iri(t["predicate"]["value"]),
            _pyld_term(t["object"]),
            None if name == "@default" else _graph_name(name),
        )
        for name, triples in dataset.items()
        for t in triples
        if t["object"] is not None
    ]
    return canonicalize_dataset(quads).nquads


def one_pass_nquads(doc: Any) -> str:
    return canonicalize_term_quads(jsonld_fast.statements(doc, LOADER)).nquads


def assert_one_pass_as_reference(doc: Any, *, urdna2015: bool = False) -> None:
    """The one-pass path takes ``doc`` and gives the reference's canonical N-Quads, through the public API too."""
    before = copy.deepcopy(doc)
    nquads = one_pass_nquads(doc)
    assert nquads == reference_nquads(doc)
    assert jsonld.canonical_nquads(doc) == nquads
    assert doc == before, "the one-pass path must not modify its input"
    if urdna2015 and not any(ord(c) < 0x20 or c == "\x7f" for c in json.dumps(doc, ensure_ascii=False)):
        # pyld's own canonicaliser agrees where it escapes as RDFC-1.0 does (no control characters).
        normalized = pyld_jsonld.normalize(
            copy.deepcopy(doc),
            {"algorithm": "URDNA2015", "format": "application/n-quads", "base": None, "documentLoader": LOADER},
        )
        assert normalized == nquads


# ----------------------------------------------------------------------------------------------------
# Every shape we make, the 1EdTech vector and validator cases
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(shapes.OUR_SHAPES))
def test_our_credential_shapes(name: str) -> None:
    assert_one_pass_as_reference(shapes.OUR_SHAPES[name], urdna2015=True)


@pytest.mark.parametrize("name", ["issuer simple", "issuer every field", "issuer status list"])
def test_issuer_service_shapes(name: str) -> None:
    credential = shapes._issuer_credentials()[name]
    assert_one_pass_as_reference(credential, urdna2015=True)
    assert_one_pass_as_reference(shapes._proof_config(credential), urdna2015=True)


def test_1edtech_vector() -> None:
    vector = json.loads((shapes.FIXTURES / "vectors" / "1edtech-ob3-eddsa-rdfc-2022.json").read_text("utf-8"))
    assert_one_pass_as_reference(shapes._unsecured(vector), urdna2015=True)
    for config in shapes._proof_configs(vector):
        assert_one_pass_as_reference(config, urdna2015=True)
    expected = (shapes.FIXTURES / "vectors" / "1edtech-ob3-document-canon.txt").read_text("utf-8")
    assert one_pass_nquads(shapes._unsecured(vector)) == expected


def assert_same_answer(doc: Any) -> None:
    """Taken by the one-pass path: no safe-mode violation and the reference's N-Quads. Not taken: ``canonicalize``
    answers as the full path does (compared with plain pyld in test_jsonld_fast_path), refusals included."""
    try:
        statements = jsonld_fast.statements(doc, LOADER)
    except (jsonld_fast.NotCovered, *jsonld._FAST_PATH_DECLINED):
        statements = None
    jsonld.forget_recent_expansions()
    try:
        violations = jsonld.find_safe_mode_violations(doc)
    except CredentialError:
        assert statements is None, "the one-pass path took a document the full path cannot process"
        with pytest.raises(CredentialError):
            jsonld.canonical_nquads(doc, check_terms=False)
        return
    if statements is not None:
        assert violations == [], "the one-pass path took a document safe mode refuses"
        nquads = canonicalize_term_quads(statements).nquads
        assert nquads == reference_nquads(doc)
        assert jsonld.canonical_nquads(doc) == nquads
        return
    try:
        with jsonld._pyld_errors():  # as canonicalize reports a malformed expansion
            full_path = canonicalize_dataset(expanded_to_dataset(jsonld.expand(doc))).nquads
    except CredentialError:
        with pytest.raises(CredentialError):
            jsonld.canonical_nquads(doc, check_terms=False)
        return
    if violations:
        with pytest.raises(UndefinedTermError):
            jsonld.canonical_nquads(doc)
    else:
        assert jsonld.canonical_nquads(doc) == full_path
    assert jsonld.canonical_nquads(doc, check_terms=False) == full_path


@pytest.mark.parametrize("path", shapes.VALIDATOR_FILES, ids=lambda p: str(p.relative_to(shapes.VALIDATOR_CASES)))
def test_validator_cases(path: Path) -> None:
    credential = json.loads(path.read_text("utf-8"))
    if not isinstance(credential, dict):
        pytest.skip("not a JSON-LD credential")
    assert_same_answer(shapes._unsecured(credential))
    for config in shapes._proof_configs(credential):
        assert_same_answer(config)


# ----------------------------------------------------------------------------------------------------
# The W3C RDFC-1.0 suite, through the term-text canonicaliser
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(e, id=e["id"].lstrip("#"))
        for e in MANIFEST["entries"]
        if e["type"] != "rdfc:RDFC10NegativeEvalTest"
    ],
)
def test_w3c_rdfc10_suite_on_term_quads(entry: dict[str, Any]) -> None:
    quads = [quad_terms(q) for q in parse_nquads((SUITE / entry["action"]).read_text(encoding="utf-8"))]
    result = canonicalize_term_quads(quads, hash_algorithm=HASHES[entry.get("hashAlgorithm", "SHA256")])
    expected = (SUITE / entry["result"]).read_text(encoding="utf-8")
    if entry["type"] == "rdfc:RDFC10EvalTest":
        assert result.nquads == expected
    else:
        assert result.issued == json.loads(expected)


# ----------------------------------------------------------------------------------------------------
# Generated OB 3.0 credentials
# ----------------------------------------------------------------------------------------------------


# Leaves cheaper to draw than test_jsonld_fast_path's (no e-mail or regex strategies, most text from a pool of
# strings covering every N-Quads escape), so that 10,000 examples stay affordable; every field our models emit is
# still drawn, and names are any Unicode text.
TEXTS = [
    "",
    " ",
    "Data Analysis",
    'quote " and backslash \\ ',
    "tab\tnewline\ncarriage\rreturn",
    "".join(chr(c) for c in range(0x20)) + "\x7f",
    "é ü ß 漢字 😀 \u0085 \u2028",
    "<b>not markup</b> & 'single'",
    "60",
    "-1.5e3",
    "true",
    "null",
    "urn:not:an:iri:here",
    "https://looks.like/an/iri",
    "ends with backslash \\",
]
text = st.one_of(st.sampled_from(TEXTS), st.text(max_size=8))
CREDENTIAL_IDS = st.integers(0, 2**40).map(lambda n: f"urn:uuid:5f0c2b7e-8d0e-4c55-9a0b-{n:012x}")
names = st.one_of(st.sampled_from(TEXTS[1:]), st.text(min_size=1, max_size=12))
GENERATED_CREDENTIALS = ob3_strategies.credentials(
    ob3_strategies.Leaves(
        text=text,
        names=names,
        iris=st.one_of(
            CREDENTIAL_IDS,
            st.sampled_from(
                [
                    "https://uni.example/a",
                    "https://uni.example/badges/data.png",
                    "did:example:123",
                    "mailto:someone@uni.example",
                    "urn:isbn:0451450523",
                    "https://uni.example/p?q=1&r=é#frag",
                ]
            ),
        ),
        credential_ids=CREDENTIAL_IDS,
        emails=st.sampled_from(["learner@uni.example", "a.b+c@mail.example", "x@y.example"]),
        dates=st.integers(946_684_800, 3_786_912_000).map(lambda s: datetime.fromtimestamp(s, UTC)),
        numbers=st.one_of(st.integers(0, 10**6), st.floats(0, 1000, allow_nan=False).map(lambda f: round(f, 2))),
        issuer=shapes.ISSUER,
        most=2,
    )
)


@pytest.mark.timeout(900)  # ~80 CPU-seconds; on a shared, busy machine the wall time is a few times that
@settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(GENERATED_CREDENTIALS)
def test_10000_generated_credentials_as_reference(credential: dict[str, Any]) -> None:
    """Every credential our models can emit takes the one-pass path, with the reference's N-Quads; so does its
    proof configuration (whose ``created`` differs per credential)."""
    assert_one_pass_as_reference(credential)
    assert_one_pass_as_reference(shapes._proof_config(credential))


@settings(shapes.GENERATED)
@given(shapes.mutated_credentials())
def test_mutated_credentials_answer_as_before(credential: dict[str, Any]) -> None:
    """Undefined terms, keywords, other contexts, odd values: refused or canonicalised exactly as by the full path."""
    assert_same_answer(credential)


def test_undefined_terms_are_still_refused() -> None:
    credential = {**shapes.OUR_SHAPES["minimal"], "undefinedTerm": "x"}
    with pytest.raises(jsonld_fast.NotCovered):
        jsonld_fast.statements(credential, LOADER)
    with pytest.raises(UndefinedTermError, match="undefinedTerm"):
        jsonld.canonical_nquads(credential)
