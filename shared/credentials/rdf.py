"""RDF terms and quads, and the canonical N-Quads form RDFC-1.0 hashes and outputs.

Canonical N-Quads (RDFC-1.0 §4.3 / RDF 1.1 N-Quads canonical form as RDFC-1.0 profiles it): literals escape
``"`` and ``\\`` and write the control characters U+0000-U+001F and U+007F as ``\\b \\t \\n \\f \\r`` or
``\\uXXXX`` (upper-case hex), exactly like rdf-canonize; everything else, IRIs included, is written as is.
Writing a control character raw (what pyld does) gives other verifiers different bytes to hash, so a signature
made by one side fails on the other.

:func:`parse_nquads` reads N-Quads (with ``\\u``/``\\U``/echar escapes) for the W3C test suite and for tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@dataclass(frozen=True, slots=True)
class Iri:
    value: str


@dataclass(frozen=True, slots=True)
class BlankNode:
    """A blank node; ``id`` is its label without the ``_:`` prefix."""

    id: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: str
    datatype: str = XSD_STRING
    language: str | None = None


Term = Iri | BlankNode | Literal
GraphName = Iri | BlankNode | None


@dataclass(frozen=True, slots=True)
class Quad:
    """One statement; ``graph`` is ``None`` for the default graph. A dataset is a set of quads."""

    subject: Iri | BlankNode
    predicate: Iri
    object: Term
    graph: GraphName = None

    def blank_nodes(self) -> Iterator[BlankNode]:
        """The blank nodes among subject, object and graph name (predicates are never blank here)."""
        for term in (self.subject, self.object, self.graph):
            if isinstance(term, BlankNode):
                yield term


_ESCAPES = {0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}
_LITERAL_ESCAPES = str.maketrans(
    {code: _ESCAPES.get(code, f"\\u{code:04X}") for code in [*range(0x20), 0x22, 0x5C, 0x7F]}
)


def escape_literal(value: str) -> str:
    """The canonical N-Quads escaping of a literal's lexical form (without the surrounding quotes)."""
    return value.translate(_LITERAL_ESCAPES)


def term_nquads(term: Term, label: Callable[[BlankNode], str] | None = None) -> str:
    """One term in canonical N-Quads; ``label`` renames blank nodes (the full ``_:x`` text)."""
    if isinstance(term, Iri):
        return f"<{term.value}>"
    if isinstance(term, BlankNode):
        return label(term) if label else f"_:{term.id}"
    text = f'"{escape_literal(term.value)}"'
    if term.language:
        return f"{text}@{term.language}"
    if term.datatype != XSD_STRING:
        return f"{text}^^<{term.datatype}>"
    return text


def quad_nquads(quad: Quad, label: Callable[[BlankNode], str] | None = None) -> str:
    """One quad as a canonical N-Quads line, newline included."""
    graph = "" if quad.graph is None else " " + term_nquads(quad.graph, label)
    return f"{term_nquads(quad.subject, label)} <{quad.predicate.value}> {term_nquads(quad.object, label)}{graph} .\n"


# A quad as the canonical N-Quads texts of its subject, predicate, object and graph name ("" for the default
# graph). Blank nodes are exactly the terms starting "_:" (IRIs start "<", literals '"'), so RDFC-1.0 hashes and
# sorts these texts without writing terms again for every hash.
TermQuad = tuple[str, str, str, str]


def quad_terms(quad: Quad) -> TermQuad:
    """A quad as :data:`TermQuad` (what :func:`shared.credentials.rdfc.canonicalize_term_quads` takes)."""
    graph = "" if quad.graph is None else term_nquads(quad.graph)
    return (term_nquads(quad.subject), f"<{quad.predicate.value}>", term_nquads(quad.object), graph)


# The quoted lexical form at the start of a literal's N-Quads text: every '"' and '\\' inside it is escaped.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)


def literal_lexical_form(text: str) -> str:
    """The lexical form of a literal written as an N-Quads term (``"…"``, ``"…"^^<…>`` or ``"…"@…``)."""
    match = _QUOTED.match(text)
    if match is None:
        raise NQuadsSyntaxError(f"not an N-Quads literal: {text!r}")
    return _unescape(match.group(1))


def serialize_nquads(quads: Iterable[Quad]) -> str:
    """Canonical N-Quads of a dataset: one line per distinct quad, in code point order."""
    return "".join(sorted({quad_nquads(q) for q in quads}))


# ----------------------------------------------------------------------------------------------------
# Parsing (N-Quads 1.1 grammar, minus the rarely used non-ASCII blank node label characters' fine print)
# ----------------------------------------------------------------------------------------------------


class NQuadsSyntaxError(ValueError):
    """The text is not N-Quads."""


_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_IRI = rf"<((?:[^\x00-\x20<>\"{{}}|^`\\]|{_UCHAR})*)>"
_LABEL_START = r"A-Za-z0-9_\u00C0-\U000EFFFF"
_LABEL_CHAR = _LABEL_START + r"\-\u00B7"
_BNODE = rf"_:([{_LABEL_START}](?:[{_LABEL_CHAR}.]*[{_LABEL_CHAR}])?)"
_LITERAL = (
    rf'"((?:[^"\\\n\r]|\\[tbnrf"\'\\]|{_UCHAR})*)"'
    r"(?:\^\^" + _IRI + r"|@([a-zA-Z]+(?:-[a-zA-Z0-9]+)*))?"
)
_WS = r"[ \t]*"
_LINE = re.compile(
    rf"{_WS}(?:{_IRI}|{_BNODE}){_WS}{_IRI}{_WS}(?:{_IRI}|{_BNODE}|{_LITERAL}){_WS}(?:(?:{_IRI}|{_BNODE}){_WS})?\.{_WS}(?:#.*)?"
)
_BLANK_OR_COMMENT = re.compile(rf"{_WS}(?:#.*)?")
_ESCAPE = re.compile(rf"{_UCHAR}|\\[tbnrf\"'\\]")
_EOL = re.compile(r"\r\n|\r|\n")
_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        escape = match.group()
        if escape[1] in "uU":
            code = int(escape[2:], 16)
            if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
                raise NQuadsSyntaxError(f"escape {escape} is not a Unicode scalar value")
            return chr(code)
        return _ECHARS[escape[1]]

    return _ESCAPE.sub(one, text) if "\\" in text else text


def parse_nquads(text: str) -> list[Quad]:
    """Parse N-Quads text into quads (duplicates kept; a dataset is their set)."""
    quads = []
    # Only CR and LF end a line: str.splitlines() would also split at U+0085, U+2028, ... inside literals.
    for number, line in enumerate(_EOL.split(text), 1):
        match = _LINE.fullmatch(line)
        if match is None:
            if _BLANK_OR_COMMENT.fullmatch(line):
                continue
            raise NQuadsSyntaxError(f"line {number} is not an N-Quads statement: {line!r}")
        s_iri, s_bnode, predicate, o_iri, o_bnode, lexical, datatype, language, g_iri, g_bnode = match.groups()
        subject: Iri | BlankNode = Iri(_unescape(s_iri)) if s_iri is not None else BlankNode(s_bnode)
        obj: Term
        if o_iri is not None:
            obj = Iri(_unescape(o_iri))
        elif o_bnode is not None:
            obj = BlankNode(o_bnode)
        elif language is not None:
            obj = Literal(_unescape(lexical), RDF_LANG_STRING, language)
        else:
            obj = Literal(_unescape(lexical), _unescape(datatype) if datatype is not None else XSD_STRING)
        graph: GraphName = None
        if g_iri is not None:
            graph = Iri(_unescape(g_iri))
        elif g_bnode is not None:
            graph = BlankNode(g_bnode)
        quads.append(Quad(subject, Iri(_unescape(predicate)), obj, graph))
    return quads
