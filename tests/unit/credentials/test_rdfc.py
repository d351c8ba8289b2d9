"""RDFC-1.0: the whole W3C test suite, canonical N-Quads escaping, the work bound, and JSON-LD to RDF."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyld import jsonld as pyld_jsonld

from shared.credentials import canonicalize
from shared.credentials.errors import TooComplexError
from shared.credentials.jsonld_rdf import expanded_to_dataset
from shared.credentials.rdf import (
    RDF_LANG_STRING,
    BlankNode,
    Iri,
    Literal,
    NQuadsSyntaxError,
    Quad,
    escape_literal,
    literal_lexical_form,
    parse_nquads,
    serialize_nquads,
    term_nquads,
)
from shared.credentials.rdfc import DEFAULT_MAX_WORK, WorkBudget, canonicalize_dataset

SUITE = Path(__file__).resolve().parents[2] / "fixtures" / "rdfc10"
MANIFEST = json.loads((SUITE / "manifest.jsonld").read_text(encoding="utf-8"))
HASHES = {"SHA256": "sha256", "SHA384": "sha384"}


def _suite_case(entry: dict[str, Any]) -> Any:
    return pytest.param(entry, id=entry["id"].lstrip("#"))


@pytest.mark.parametrize("entry", [_suite_case(e) for e in MANIFEST["entries"]])
def test_w3c_rdfc10_suite(entry: dict[str, Any]) -> None:
    """Every test of the W3C RDFC-1.0 suite passes with the default work bound (the one verification uses)."""
    quads = parse_nquads((SUITE / entry["action"]).read_text(encoding="utf-8"))
    algorithm = HASHES[entry.get("hashAlgorithm", "SHA256")]
    if entry["type"] == "rdfc:RDFC10NegativeEvalTest":
        with pytest.raises(TooComplexError) as refused:
            canonicalize_dataset(quads, hash_algorithm=algorithm)
        assert refused.value.code == "data.too_complex"
        return
    result = canonicalize_dataset(quads, hash_algorithm=algorithm)
    expected = (SUITE / entry["result"]).read_text(encoding="utf-8")
    if entry["type"] == "rdfc:RDFC10EvalTest":
        assert result.nquads == expected
    else:
        assert entry["type"] == "rdfc:RDFC10MapTest"
        assert result.issued == json.loads(expected)


def test_the_suite_is_all_there() -> None:
    kinds = [e["type"] for e in MANIFEST["entries"]]
    assert len(kinds) == 86 and kinds.count("rdfc:RDFC10MapTest") == 21
    assert all((SUITE / e["action"]).is_file() for e in MANIFEST["entries"])


# ----------------------------------------------------------------------------------------------------
# Canonical N-Quads escaping (what differed from rdf-canonize)
# ----------------------------------------------------------------------------------------------------

ESCAPED = {
    "\x00": "\\u0000",
    "\x01": "\\u0001",
    "\x07": "\\u0007",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\u000B",
    "\f": "\\f",
    "\r": "\\r",
    "\x0e": "\\u000E",
    "\x1f": "\\u001F",
    "\x7f": "\\u007F",
    '"': '\\"',
    "\\": "\\\\",
}


@pytest.mark.parametrize(("char", "escaped"), ESCAPED.items(), ids=[f"U+{ord(c):04X}" for c in ESCAPED])
def test_literals_escape_like_rdfc10(char: str, escaped: str) -> None:
    assert escape_literal(f"a{char}b") == f"a{escaped}b"


@pytest.mark.parametrize("text", [" ", "é", "\u0080", "\u0085", "\u2028", "😀", "'", "<>{}|^`"])
def test_other_characters_are_written_as_they_are_and_read_back(text: str) -> None:
    assert escape_literal(text) == text
    quad = Quad(Iri("urn:x:s"), Iri("urn:x:p"), Literal(text))
    assert parse_nquads(serialize_nquads([quad])) == [quad]


def test_a_credential_with_control_characters_canonicalises_escaped() -> None:
    doc = {"@id": "urn:x:s", "https://example.org/name": "Line\u000bbreak\x01\x7f\ttab"}
    assert canonicalize(doc, check_terms=False) == (
        '<urn:x:s> <https://example.org/name> "Line\\u000Bbreak\\u0001\\u007F\\ttab" .\n'
    )


# ----------------------------------------------------------------------------------------------------
# N-Quads parsing: round trip (Hypothesis) and refusals
# ----------------------------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_iris = st.builds(lambda s: Iri("urn:x:" + s), st.text("abcé0:/#%", max_size=6))
_blanks = st.builds(BlankNode, st.sampled_from(["a", "b", "c", "n0", "x.y", "z-1"]))
_literals = st.one_of(
    st.builds(Literal, _text),
    st.builds(lambda v, d: Literal(v, "urn:dt:" + d), _text, st.text("abc", min_size=1, max_size=3)),
    st.builds(lambda v, lang: Literal(v, RDF_LANG_STRING, lang), _text, st.sampled_from(["en", "de-CH", "pt-br"])),
)
_quads = st.builds(
    Quad,
    st.one_of(_iris, _blanks),
    _iris,
    st.one_of(_iris, _blanks, _literals),
    st.one_of(st.none(), _iris, _blanks),
)


@given(st.lists(_quads, max_size=8))
def test_serialised_nquads_parse_back_to_the_same_dataset(quads: list[Quad]) -> None:
    assert set(parse_nquads(serialize_nquads(quads))) == set(quads)


@given(_literals)
def test_a_literal_term_text_gives_back_its_lexical_form(literal: Literal) -> None:
    assert literal_lexical_form(term_nquads(literal)) == literal.value


@given(st.text(max_size=30))
def test_a_lexical_form_is_read_from_a_literal_text_or_refused(text: str) -> None:
    with contextlib.suppress(NQuadsSyntaxError):
        literal_lexical_form(text)


@given(st.text(max_size=60))
def test_parsing_arbitrary_text_either_parses_or_says_why(text: str) -> None:
    with contextlib.suppress(NQuadsSyntaxError):
        parse_nquads(text)


@pytest.mark.parametrize(
    "line", ['<urn:a> <urn:b> "c" <urn:g> <urn:h> .', "<urn:a> <urn:b> .", '<urn:a> "b" <urn:c> .', '<a b> <c> "d" .']
)
def test_malformed_nquads_are_refused(line: str) -> None:
    with pytest.raises(NQuadsSyntaxError):
        parse_nquads(line)


# ----------------------------------------------------------------------------------------------------
# Canonical form: the same for every relabelling and order; the work bound
# ----------------------------------------------------------------------------------------------------

_small_graphs = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(["p", "q"]), st.integers(0, 4), st.booleans()), max_size=10
)


def _graph(edges: list[tuple[int, str, int, bool]], names: list[str]) -> list[Quad]:
    return [
        Quad(BlankNode(names[s]), Iri(f"urn:x:{p}"), Literal(str(o)) if literal else BlankNode(names[o]))
        for s, p, o, literal in edges
    ]


@settings(max_examples=60, deadline=None)
@given(_small_graphs, st.permutations(["a", "b", "c", "d", "e"]), st.randoms(use_true_random=False))
def test_canonical_form_ignores_blank_node_labels_and_quad_order(edges: Any, names: list[str], rnd: Any) -> None:
    first = canonicalize_dataset(_graph(edges, ["a", "b", "c", "d", "e"])).nquads
    relabelled = _graph(edges, names)
    rnd.shuffle(relabelled)
    assert canonicalize_dataset(relabelled).nquads == first


def _clique(size: int) -> list[Quad]:
    return [
        Quad(BlankNode(f"n{i}"), Iri("https://example.org/knows"), BlankNode(f"n{j}"))
        for i in range(size)
        for j in range(size)
        if i != j
    ]


def test_a_small_clique_is_canonicalised() -> None:
    result = canonicalize_dataset(_clique(4))
    assert sorted(result.issued.values()) == [f"c14n{i}" for i in range(4)]


@pytest.mark.parametrize("size", [6, 8, 12])
def test_a_blank_node_clique_is_refused_within_the_work_bound(size: int) -> None:
    budget = WorkBudget()
    with pytest.raises(TooComplexError) as refused:
        canonicalize_dataset(_clique(size), budget=budget)
    assert refused.value.code == "data.too_complex"
    assert budget.used == DEFAULT_MAX_WORK + 1


@pytest.mark.parametrize("length", [100, 3000])
def test_a_long_list_of_identical_values_is_refused_not_crashed(length: int) -> None:
    """Identical list cells all need N-degree hashing along the chain (quadratic work, recursion as deep as the
    list): refused with the code, never a RecursionError."""
    doc = {"@id": "urn:x:s", "urn:p:l": {"@list": ["same"] * length}}
    with pytest.raises(TooComplexError):
        canonicalize(doc, check_terms=False)


def test_a_passed_deadline_stops_the_work() -> None:
    budget = WorkBudget(max_work=10**9, deadline=time.monotonic() - 1)
    with pytest.raises(TooComplexError, match="deadline"):
        canonicalize_dataset(_clique(7), budget=budget)
    assert budget.used < 1000


# ----------------------------------------------------------------------------------------------------
# JSON-LD to RDF: the same dataset as pyld's to_rdf (Hypothesis, differential), in linear time
# ----------------------------------------------------------------------------------------------------


def _pyld_dataset(doc: Any) -> list[Quad]:
    """pyld's own to_rdf, as our quads."""

    def term(t: dict[str, Any]) -> Any:
        if t["type"] == "IRI":
            return Iri(t["value"])
        if t["type"] == "blank node":
            return BlankNode(t["value"][2:])
        return Literal(t["value"], t["datatype"], t.get("language"))

    dataset = pyld_jsonld.to_rdf(doc, {"base": None})
    return [
        Quad(
            term(t["subject"]),
            term(t["predicate"]),
            term(t["object"]),
            None
            if name == "@default"
            else term({"type": "blank node" if name.startswith("_:") else "IRI", "value": name}),
        )
        for name, triples in dataset.items()
        for t in triples
        if t["object"] is not None  # pyld keeps a list item that is a relative IRI as None; the spec drops it
    ]


_ids = st.sampled_from(["urn:x:a", "urn:x:b", "_:x", "_:y", "relative", "https://e.org/c"])
_props = st.sampled_from(["urn:p:a", "urn:p:b", "_:bp", "relative-p"])
_values = st.one_of(
    st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=4),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.builds(lambda v: {"@value": v, "@language": "en"}, st.text("ab", max_size=2)),
    st.builds(lambda v: {"@value": v, "@type": "urn:dt:x"}, st.text("ab", max_size=2)),
    st.builds(lambda v: {"@value": v, "@type": "@json"}, st.dictionaries(st.text("ab", max_size=2), st.integers())),
)
_nodes = st.recursive(
    _values,
    lambda inner: st.one_of(
        st.builds(lambda items: {"@list": items}, st.lists(inner, max_size=3)),
        st.builds(
            lambda node_id, props, types, rev, graph, included: {
                **({"@id": node_id} if node_id else {}),
                **props,
                **({"@type": types} if types else {}),
                **({"@reverse": {"urn:p:r": rev}} if rev else {}),
                **({"@graph": graph} if graph else {}),
                **({"@included": included} if included else {}),
            },
            st.one_of(st.none(), _ids),
            st.dictionaries(_props, st.lists(inner, max_size=3), max_size=2),
            st.lists(_ids, max_size=2),
            st.lists(st.builds(dict, st.just([("@id", "urn:x:r")])), max_size=1),
            st.lists(st.builds(lambda p, v: {p: v}, _props, inner), max_size=2),
            st.lists(st.builds(lambda v: {"urn:p:i": v}, inner), max_size=1),
        ),
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_nodes, min_size=1, max_size=3))
def test_jsonld_to_rdf_matches_pyld(doc: list[Any]) -> None:
    """Our linear JSON-LD to RDF gives pyld's dataset (compared in canonical form)."""
    try:
        expected = _pyld_dataset(doc)
    except pyld_jsonld.JsonLdError:
        return  # not valid JSON-LD; canonicalize reports it through expansion
    expanded = pyld_jsonld.expand(doc, {"base": None})
    ours = expanded_to_dataset(expanded)
    assert canonicalize_dataset(ours).nquads == canonicalize_dataset(expected).nquads


def test_long_arrays_do_not_cost_the_square_of_their_length() -> None:
    """6,000 values on one property: a dataset of 6,001 quads (pyld's node map compared each with all)."""
    doc = {"@id": "urn:x:a", "urn:p:tag": [f"tag-{i}" for i in range(6000)], "urn:p:n": [1, 1, 1]}
    quads = expanded_to_dataset(pyld_jsonld.expand(doc, {"base": None}))
    assert len(quads) == 6001
