"""Expanded JSON-LD to an RDF dataset (JSON-LD 1.1 API §8.1 "Deserialize JSON-LD to RDF"), in linear time.

pyld's ``to_rdf`` first builds a node map in which every added value is compared with every value already on
that property (``add_value(..., allowDuplicate=False)``), so a credential with one long array (6,000 tags) costs
time proportional to the square of its length. The node map only exists to merge node descriptions and drop
duplicate values; an RDF dataset is a *set* of quads, so walking the expanded document once and letting the
set absorb duplicates gives the same dataset in linear time. Literal conversion (numbers, booleans, ``@json``,
``@language``) is pyld's own, so values map exactly as before.

Like pyld (and jsonld.js) without generalized RDF: statements whose subject, predicate or object is a relative
IRI, or whose predicate is a blank node, are left out; the nodes nested under them are still described.
"""

from __future__ import annotations

import re
from typing import Any

from pyld import jsonld as pyld_jsonld

from .errors import JsonLdProcessingError
from .rdf import BlankNode, GraphName, Iri, Literal, Quad, Term

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDF_TYPE, RDF_FIRST, RDF_REST, RDF_NIL = RDF + "type", RDF + "first", RDF + "rest", RDF + "nil"
# pyld's (and jsonld.js's) test: a scheme or "_", a colon, no whitespace.
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")
_VALUE_OPTIONS = {"processingMode": "json-ld-1.1", "rdfDirection": None}
# The graph of a node whose @id is a relative IRI: pyld leaves out its statements, not those of graphs inside it.
_LEFT_OUT = Iri("")


def _is_absolute(iri: str) -> bool:
    return bool(_ABSOLUTE_IRI.match(iri))


class _DatasetBuilder:
    def __init__(self) -> None:
        self.quads: dict[Quad, None] = {}
        self.labels: dict[str, str] = {}
        self.processor = pyld_jsonld.JsonLdProcessor()

    def blank(self, label: str | None = None) -> BlankNode:
        """A blank node for an input label (the same label, the same node) or, without one, a new one."""
        # Input labels are renamed so they can never collide with the ones issued for unlabelled nodes.
        key = f"\x00{len(self.labels)}" if label is None else label
        found = self.labels.get(key)
        if found is None:
            found = self.labels[key] = f"b{len(self.labels)}"
        return BlankNode(found)

    def resource(self, identifier: str) -> Iri | BlankNode | None:
        """An ``@id``/``@type`` string as a term; ``None`` for a relative IRI (left out)."""
        if identifier.startswith("_:"):
            return self.blank(identifier)
        return Iri(identifier) if _is_absolute(identifier) else None

    def add(self, subject: Iri | BlankNode | None, predicate: str, obj: Term | None, graph: GraphName) -> None:
        if subject is not None and obj is not None and graph is not _LEFT_OUT and _is_predicate(predicate):
            self.quads[Quad(subject, Iri(predicate), obj, graph)] = None

    def node(self, node: dict[str, Any], graph: GraphName) -> Iri | BlankNode | None:
        """Describe a node object in ``graph``; return its term (``None`` if its ``@id`` is relative)."""
        identifier = node.get("@id")
        subject = self.blank() if identifier is None else self.resource(identifier)
        for key, values in node.items():
            if key == "@type":
                for type_ in values:
                    self.add(subject, RDF_TYPE, self.resource(type_), graph)
            elif key == "@reverse":
                for predicate, items in values.items():
                    for item in items:
                        self.add(self.node(item, graph), predicate, subject, graph)
            elif key == "@graph":
                for item in values:
                    if _is_node(item):
                        self.node(item, _LEFT_OUT if subject is None else subject)
            elif key == "@included":
                for item in values:
                    self.node(item, graph)
            elif not key.startswith("@"):
                stated = subject is not None and _is_predicate(key)
                for item in values:
                    self.add(subject, key, self.object(item, graph, stated), graph)
        return subject

    def object(self, item: dict[str, Any], graph: GraphName, stated: bool) -> Term | None:
        """The term for a property value, describing nested nodes on the way. List cells are only written
        when the statement holding the list is (``stated``), as pyld does."""
        if "@value" in item:
            converted = self.processor._object_to_rdf(item, None, [], _VALUE_OPTIONS)
            if converted is None:
                return None
            return Literal(converted["value"], converted["datatype"], converted.get("language"))
        if "@list" in item:
            return self.list(item["@list"], graph, stated)
        return self.node(item, graph)

    def list(self, items: list[Any], graph: GraphName, stated: bool) -> Iri | BlankNode:
        if not stated:
            for item in items:
                self.object(item, graph, stated=False)
            return Iri(RDF_NIL)
        cells = [self.blank() for _ in items]
        for i, (cell, item) in enumerate(zip(cells, items, strict=True)):
            self.add(cell, RDF_FIRST, self.object(item, graph, stated=True), graph)
            self.add(cell, RDF_REST, cells[i + 1] if i + 1 < len(cells) else Iri(RDF_NIL), graph)
        return cells[0] if cells else Iri(RDF_NIL)


def _is_predicate(iri: str) -> bool:
    # Without generalized RDF a predicate is an absolute IRI, never a blank node.
    return not iri.startswith("_:") and _is_absolute(iri)


def _is_node(item: Any) -> bool:
    return isinstance(item, dict) and "@value" not in item and "@list" not in item and "@set" not in item


def expanded_to_dataset(expanded: list[Any]) -> list[Quad]:
    """The RDF dataset (distinct quads) of an expanded JSON-LD document."""
    builder = _DatasetBuilder()
    try:
        for item in expanded:
            if _is_node(item):
                builder.node(item, None)
    except RecursionError as error:  # expansion fails first today; untrusted input must never crash us
        raise JsonLdProcessingError("JSON-LD nested too deeply to convert to RDF") from error
    return list(builder.quads)
