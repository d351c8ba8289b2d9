"""A fast JSON-LD expansion and JSON-LD -> RDF path for the documents credentials are made of; pyld does the rest.

pyld's expansion is general (framing, every container, every keyword) and pays for it on every key of every
node. The documents we sign and verify use a small part of JSON-LD: bundled contexts (processed once, by pyld,
see :mod:`.jsonld_cache`), type- and property-scoped contexts, ``@id``/``@type`` aliases, ``@set``/``@list``/
``@graph`` containers, typed and ``@json`` values. :func:`expand` follows pyld's expansion algorithm step for
step for exactly that part, using pyld's own processed contexts and term definitions, and gives up
(:class:`NotCovered`) on anything else — any other keyword in the document, a context that is not bundled, an
index/language/id/type map, ``@nest``, reverse properties — so that the caller expands the whole document with
pyld instead. :func:`dataset` does the same for pyld's ``to_rdf`` tail (node map, then triples).

Correctness is checked differentially (``tests/unit/credentials/test_jsonld_fast_path.py``): the same expanded
JSON-LD and the same canonical N-Quads as pyld for every credential shape we make, the 1EdTech vector and
validator cases, and generated OB 3.0 credentials.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from pyld import jsonld as pyld_jsonld
from pyld.context_resolver import ContextResolver

from . import jsonld_cache

_KEYWORD_LIKE = re.compile(r"^@[a-zA-Z]+$")
# pyld's _is_absolute_iri, compiled once.
_ABSOLUTE_IRI = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*|_):[^\s]*$")
_KEYWORDS = frozenset(pyld_jsonld.KEYWORDS)
# Keywords this path handles as node keys; any other keyword in a document sends it to pyld.
_NODE_KEYWORDS = frozenset({"@id", "@type"})
_UNCOVERED_CONTAINERS = frozenset({"@language", "@index", "@id", "@type"})
_RDF_TYPE = pyld_jsonld.RDF_TYPE
_RDF_FIRST = pyld_jsonld.RDF_FIRST
_RDF_REST = pyld_jsonld.RDF_REST
_RDF_NIL = pyld_jsonld.RDF_NIL
_XSD_STRING = pyld_jsonld.XSD_STRING
_XSD_BOOLEAN = pyld_jsonld.XSD_BOOLEAN
_XSD_DOUBLE = pyld_jsonld.XSD_DOUBLE
_XSD_INTEGER = pyld_jsonld.XSD_INTEGER
_RDF_LANGSTRING = pyld_jsonld.RDF_LANGSTRING
_RDF_JSON_LITERAL = pyld_jsonld.RDF_JSON_LITERAL
_MAX_DEPTH = 200
_NIL: dict[str, str] = {"type": "IRI", "value": pyld_jsonld.RDF_NIL}


class NotCovered(Exception):
    """The document uses JSON-LD this path does not implement: use pyld for the whole document."""


def _is_absolute(value: Any) -> bool:
    return isinstance(value, str) and _ABSOLUTE_IRI.match(value) is not None


@functools.lru_cache(maxsize=8192)
def _is_absolute_cached(value: str) -> bool:
    return _ABSOLUTE_IRI.match(value) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class _Term:
    """What expansion needs to know about one key in one (cached, never changing) active context."""

    __slots__ = ("absolute", "container", "context", "direction", "iri", "language", "reverse", "type")

    def __init__(self, processor: Any, ctx: Any, key: str | None) -> None:
        value = pyld_jsonld.JsonLdProcessor.get_context_value
        self.iri = processor._expand_iri(ctx, key, base=None, vocab=True)
        self.absolute = _is_absolute(self.iri)
        self.container = frozenset(_as_list(value(ctx, key, "@container") or []))
        self.type = value(ctx, key, "@type")
        self.context = value(ctx, key, "@context")
        self.language = value(ctx, key, "@language")
        self.direction = value(ctx, key, "@direction")
        mapping = ctx["mappings"].get(key) if key is not None else None
        self.reverse = bool(mapping and mapping.get("reverse"))


# Keyed by id() of contexts that live for the whole process (pyld's initial contexts and the ones in
# jsonld_cache), so an id is never reused; bounded because documents choose the keys.
_TERMS: dict[tuple[int, str | None], _Term] = {}
_TRANSITIONS: dict[tuple[Any, ...], Any] = {}
_MAX_MEMO = 20_000


class _Expansion:
    """One document's expansion; mirrors JsonLdProcessor._expand/_expand_object/_prepare_nested_context."""

    def __init__(self, loader: Callable[..., Any], on_property_dropped: Callable[[str | None], None]) -> None:
        self._processor = pyld_jsonld.JsonLdProcessor()
        self._dropped = on_property_dropped
        self._options: dict[str, Any] = {
            "base": None,
            "documentLoader": loader,
            "contextResolver": ContextResolver(pyld_jsonld._resolved_context_cache, loader),
            "isFrame": False,
            "keepFreeFloatingNodes": False,
            "extractAllScripts": False,
            "processingMode": "json-ld-1.1",
        }
        cache = jsonld_cache.installed()
        if cache is None:
            raise NotCovered("pyld version not checked")
        self._cache = cache

    # -- contexts and terms ---------------------------------------------------------------------------

    def _process(self, ctx: Any, local: Any, *, override_protected: bool = False, propagate: bool = True) -> Any:
        if isinstance(local, str) or (isinstance(local, list) and all(isinstance(u, str) for u in local)):
            local_key: Any = tuple(_as_list(local))
        elif isinstance(local, dict) and self._cache.knows_scoped(local):
            local_key = id(local)
        else:
            raise NotCovered("context that is not bundled")
        key = (id(ctx), local_key, override_protected, propagate)
        result = _TRANSITIONS.get(key)
        if result is None:
            result = self._processor._process_context(
                ctx, local, self._options, override_protected=override_protected, propagate=propagate
            )
            if not self._cache.knows(result):
                # Not a cached (static) context: per-context memos would be keyed by a transient object.
                raise NotCovered("context not cached")
            if len(_TRANSITIONS) >= _MAX_MEMO:
                _TRANSITIONS.clear()
            _TRANSITIONS[key] = result
        return result

    def _term(self, ctx: Any, key: str | None) -> _Term:
        term = _TERMS.get((id(ctx), key))
        if term is not None:
            return term
        if not isinstance(key, str | None):
            raise NotCovered("key is not a string")
        term = _Term(self._processor, ctx, key)
        if len(_TERMS) >= _MAX_MEMO:
            _TERMS.clear()
        _TERMS[id(ctx), key] = term
        return term

    def _document_iri(self, ctx: Any, value: str) -> Any:
        # @id values: no vocabulary mapping, relative IRIs left relative (base None).
        return self._processor._expand_iri(ctx, value, base=None)

    # -- expansion ------------------------------------------------------------------------------------

    def expand_document(self, doc: Any) -> list[Any]:
        initial = self._processor._get_initial_context(self._options)
        self._cache.remember(initial)
        expanded = self._expand(initial, None, doc, False, None, 0)
        if isinstance(expanded, dict) and "@graph" in expanded and len(expanded) == 1:
            expanded = expanded["@graph"]
        elif expanded is None:
            expanded = []
        return _as_list(expanded)

    def _expand(
        self, ctx: Any, active_property: str | None, element: Any, inside_list: bool, type_scoped: Any, depth: int
    ) -> Any:
        if depth > _MAX_DEPTH:
            raise NotCovered("too deep")
        if element is None:
            return None
        if isinstance(element, list):
            inside_list = inside_list or "@list" in self._term(ctx, active_property).container
            out: list[Any] = []
            for item in element:
                e = self._expand(ctx, active_property, item, inside_list, type_scoped, depth + 1)
                if inside_list and isinstance(e, list):
                    e = {"@list": e}
                if e is not None:
                    if isinstance(e, list):
                        out.extend(e)
                    else:
                        out.append(e)
            return out
        if not isinstance(element, dict):
            if not inside_list and (active_property is None or self._term(ctx, active_property).iri == "@graph"):
                return None
            return self._expand_value(ctx, active_property, element)

        active = self._term(ctx, active_property)
        expanded_active_property = active.iri
        property_scoped = active.context
        if not type_scoped and ctx.get("previousContext"):
            type_scoped = ctx
        must_revert = True
        items = sorted(element.items())
        if type_scoped and len(element) <= 2 and "@context" not in element:
            for key, _ in items:
                expanded = self._term(type_scoped, key).iri
                if expanded == "@value":
                    must_revert = False
                    ctx = type_scoped
                    break
                if expanded == "@id" and len(element) == 1:
                    must_revert = False
                    break
        if must_revert:
            ctx = ctx.get("previousContext", ctx)
        if property_scoped is not None:
            ctx = self._process(ctx, property_scoped, override_protected=True)

        # _prepare_nested_context
        if "@context" in element:
            local = element["@context"]
            if isinstance(local, dict) and len(local) == 1 and "@context" in local:
                raise NotCovered("keyword redefinition")  # pyld raises; let it
            ctx = self._process(ctx, local)
        type_scoped = ctx
        type_key = None
        for key, value in items:
            if self._term(ctx, key).iri != "@type":
                continue
            type_key = type_key or key
            for type_ in sorted(t for t in _as_list(value) if isinstance(t, str)):
                scoped = self._term(type_scoped, type_).context
                if scoped is not None and scoped is not False:
                    ctx = self._process(ctx, scoped, propagate=False)

        node: dict[str, Any] = {}
        self._expand_object(ctx, element, items, node, type_key, type_scoped, depth)

        count = len(node)
        if "@type" in node:
            if not isinstance(node["@type"], list):
                node["@type"] = [node["@type"]]
        elif "@value" in node or "@set" in node or "@list" in node or "@language" in node:
            raise NotCovered("value, set or list object in the document")
        top_level = not inside_list and (active_property is None or expanded_active_property == "@graph")
        if top_level and (count == 0 or (count == 1 and "@id" in node)):
            return None
        return node

    def _expand_object(
        self,
        ctx: Any,
        element: dict[str, Any],
        items: list[tuple[str, Any]],
        node: dict[str, Any],
        type_key: str | None,
        type_scoped: Any,
        depth: int,
    ) -> None:
        if type_key in element:
            first = element[type_key]
            first = first[0] if first and isinstance(first, list) else first
            if isinstance(first, str) and self._term(ctx, first).iri == "@json":
                raise NotCovered("@json node")
        for key, value in items:
            if key == "@context":
                continue
            term = self._term(ctx, key)
            prop = term.iri
            if prop is None or not (term.absolute or prop in _KEYWORDS):
                self._dropped(prop)
                continue
            if prop in _KEYWORDS:
                if prop not in _NODE_KEYWORDS or (prop in node and prop != "@type"):
                    raise NotCovered(f"keyword {prop}")
                if prop == "@id":
                    if not isinstance(value, str):
                        raise NotCovered("@id not a string")  # pyld raises the error
                    node["@id"] = self._document_iri(ctx, value)
                    continue
                # @type
                if value is None or isinstance(value, dict):
                    raise NotCovered("@type null or object")
                types = _as_list(value)
                if not all(isinstance(t, str) for t in types):
                    raise NotCovered("@type not strings")  # pyld raises the error
                expanded_types = [self._term(type_scoped, t).iri for t in types]
                if not expanded_types:
                    continue
                if "@type" in node:
                    node["@type"] = _as_list(node["@type"]) + expanded_types
                elif len(expanded_types) == 1:
                    node["@type"] = expanded_types[0]
                else:
                    node["@type"] = expanded_types
                continue

            term_ctx = ctx
            if term.context is not None:
                term_ctx = self._process(ctx, term.context, propagate=True, override_protected=True)
            container = term.container
            if isinstance(value, dict) and _UNCOVERED_CONTAINERS.intersection(container):
                raise NotCovered("map container")
            if term.type == "@json":
                expanded_value: Any = {"@type": "@json", "@value": value}
            elif term_ctx is ctx and not isinstance(value, dict | list):
                # What _expand does with a scalar, without looking the same term up twice more.
                expanded_value = None if value is None or term.iri == "@graph" else self._value(ctx, term, value)
            else:
                expanded_value = self._expand(term_ctx, key, value, False, None, depth + 1)
            if expanded_value is None:
                continue
            if "@list" in container and not (isinstance(expanded_value, dict) and "@list" in expanded_value):
                expanded_value = {"@list": _as_list(expanded_value)}
            if "@graph" in container and "@id" not in container and "@index" not in container:
                expanded_value = [{"@graph": [v]} for v in _as_list(expanded_value)]
            if self._term(term_ctx, key).reverse:
                raise NotCovered("reverse property")
            values = node.setdefault(prop, [])
            if isinstance(expanded_value, list):
                values.extend(expanded_value)
            else:
                values.append(expanded_value)

    def _expand_value(self, ctx: Any, active_property: str | None, value: Any) -> Any:
        return self._value(ctx, self._term(ctx, active_property), value)

    def _value(self, ctx: Any, term: _Term, value: Any) -> Any:
        expanded_property = term.iri
        if expanded_property == "@id":
            return self._document_iri(ctx, value) if isinstance(value, str) else value
        if expanded_property == "@type":
            return self._term(ctx, value).iri if isinstance(value, str) else value
        type_ = term.type
        if (type_ == "@id" or expanded_property == "@graph") and isinstance(value, str):
            return {"@id": self._document_iri(ctx, value)}
        if type_ == "@vocab" and isinstance(value, str):
            return {"@id": self._term(ctx, value).iri}
        if expanded_property in _KEYWORDS:
            return value
        result: dict[str, Any] = {}
        if type_ is not None and type_ not in ("@id", "@vocab", "@none"):
            result["@type"] = type_
        elif isinstance(value, str):
            if term.language is not None:
                result["@language"] = term.language
            if term.direction is not None:
                result["@direction"] = term.direction
        if not isinstance(value, bool | int | float | str):
            value = str(value)
        result["@value"] = value
        return result


def expand(doc: Any, loader: Callable[..., Any], on_property_dropped: Callable[[str | None], None]) -> list[Any]:
    """pyld-identical expansion of ``doc`` (base ``None``); raises :class:`NotCovered` where pyld must do it."""
    return _Expansion(loader, on_property_dropped).expand_document(doc)


# ----------------------------------------------------------------------------------------------------
# Expanded JSON-LD -> RDF dataset (pyld's form)
# ----------------------------------------------------------------------------------------------------

Term = dict[str, str]


class _Triples:
    """Triples of one expanded document: pyld's node map + _graph_to_rdf for nodes, values and flat lists."""

    def __init__(self) -> None:
        self.triples: list[dict[str, Term]] = []
        self._seen: set[tuple[str, ...]] = set()
        self._labels: dict[str, str] = {}
        self._counter = 0

    def _blank(self, label: str | None = None) -> str:
        if label is not None and label in self._labels:
            return self._labels[label]
        fresh = f"_:b{self._counter}"
        self._counter += 1
        if label is not None:
            self._labels[label] = fresh
        return fresh

    def _add(self, subject: Term, predicate: str, obj: Term, *, dedupe: bool = True) -> None:
        key = (subject["value"], predicate, obj["type"], obj["value"], obj.get("datatype"), obj.get("language"))
        if key not in self._seen or not dedupe:
            self._seen.add(key)
            self.triples.append({"subject": subject, "predicate": {"type": "IRI", "value": predicate}, "object": obj})

    def node(self, node: dict[str, Any], depth: int) -> str:
        """Emit the triples of a node object; return its (relabelled) identifier."""
        if depth > _MAX_DEPTH:
            raise NotCovered("too deep")
        node_id = node.get("@id")
        if node_id is None:
            subject = self._blank()
        elif not isinstance(node_id, str):
            raise NotCovered("@id not a string")
        elif node_id.startswith("_:"):
            subject = self._blank(node_id)
        else:
            subject = node_id
        # Statements about a relative IRI are left out; the nodes nested in them are still described.
        term: Term | None = None
        if subject.startswith("_:"):
            term = {"type": "blank node", "value": subject}
        elif _is_absolute_cached(subject):
            term = {"type": "IRI", "value": subject}
        for prop, items in node.items():
            if prop == "@id":
                continue
            if prop == "@type":
                for type_ in items:
                    if not isinstance(type_, str) or type_.startswith("_:"):
                        raise NotCovered("blank node type")
                    if term is not None and _is_absolute_cached(type_):
                        self._add(term, _RDF_TYPE, {"type": "IRI", "value": type_})
                continue
            if prop in _KEYWORDS:
                raise NotCovered(f"keyword {prop} in node")
            statement = term is not None and not prop.startswith("_:") and _is_absolute_cached(prop)
            if not statement:
                # pyld skips such a statement before converting its object (so no rdf:first/rest for a list),
                # but its node map still describes the nodes nested in it.
                for item in items:
                    self._describe_nodes(item, depth + 1)
                continue
            for item in items:
                obj = self.object(item, depth + 1)
                if statement and obj is not None:
                    # pyld's node map never merges list values, so two empty lists give rdf:nil twice.
                    self._add(term, prop, obj, dedupe="@list" not in item)  # type: ignore[arg-type]
        return subject

    def _describe_nodes(self, item: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise NotCovered("too deep")
        if not isinstance(item, dict):
            raise NotCovered("free string")
        if "@list" in item:
            for member in item["@list"]:
                self._describe_nodes(member, depth + 1)
        elif "@graph" in item:
            raise NotCovered("graph")
        elif "@value" not in item:
            self.node(item, depth)

    def object(self, item: Any, depth: int) -> Term | None:
        if not isinstance(item, dict):
            raise NotCovered("free string")
        if "@value" in item:
            return _literal(item)
        if "@list" in item:
            return self._list(item["@list"], depth)
        if "@graph" in item:
            raise NotCovered("graph")
        identifier = self.node(item, depth)
        if identifier.startswith("_:"):
            return {"type": "blank node", "value": identifier}
        return {"type": "IRI", "value": identifier} if _is_absolute_cached(identifier) else None

    def _list(self, items: list[Any], depth: int) -> Term:
        if any(isinstance(item, dict) and "@list" in item for item in items):
            raise NotCovered("list of lists")
        if not items:
            return _NIL
        objects = [self.object(item, depth + 1) for item in items]
        if any(obj is None for obj in objects):
            raise NotCovered("relative IRI in a list")
        head = subject = {"type": "blank node", "value": self._blank()}
        for i, obj in enumerate(objects):
            assert obj is not None
            rest = {"type": "blank node", "value": self._blank()} if i < len(objects) - 1 else _NIL
            self._add(subject, _RDF_FIRST, obj)
            self._add(subject, _RDF_REST, rest)
            subject = rest
        return head


def _literal(item: dict[str, Any]) -> Term:
    if "@index" in item or "@direction" in item:
        raise NotCovered("value with @index or @direction")
    value = item["@value"]
    datatype = item.get("@type")
    if datatype == "@json":
        return {
            "type": "literal",
            "value": pyld_jsonld.canonicalize(value).decode("utf-8"),
            "datatype": _RDF_JSON_LITERAL,
        }
    if isinstance(value, bool):
        return {"type": "literal", "value": "true" if value else "false", "datatype": datatype or _XSD_BOOLEAN}
    # Numbers exactly as pyld's _object_to_rdf: integral floats are integers, others canonical doubles.
    if pyld_jsonld._is_double(value):
        double = pyld_jsonld._canonicalize_double(value)
        return {"type": "literal", "value": double, "datatype": datatype or _XSD_DOUBLE}
    if datatype == _XSD_DOUBLE:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return {"type": "literal", "value": value, "datatype": _XSD_DOUBLE}
        return {"type": "literal", "value": pyld_jsonld._canonicalize_double(number), "datatype": _XSD_DOUBLE}
    if pyld_jsonld._is_integer(value):
        if abs(value) >= 1e21:
            number_text = pyld_jsonld._canonicalize_double(value)
            return {"type": "literal", "value": number_text, "datatype": datatype or _XSD_DOUBLE}
        return {"type": "literal", "value": str(int(value)), "datatype": datatype or _XSD_INTEGER}
    if not isinstance(value, str):
        raise NotCovered("value type")
    if "@language" in item:
        return {
            "type": "literal",
            "value": value,
            "datatype": datatype or _RDF_LANGSTRING,
            "language": item["@language"],
        }
    return {"type": "literal", "value": value, "datatype": datatype or _XSD_STRING}


def dataset(expanded: list[Any]) -> dict[str, list[dict[str, Term]]]:
    """pyld's ``to_rdf`` dataset of an expanded document with one default graph (up to blank node labels)."""
    triples = _Triples()
    for item in expanded:
        if not isinstance(item, dict) or "@value" in item or "@list" in item or "@graph" in item:
            raise NotCovered("top-level item")
        triples.node(item, 0)
    return {"@default": triples.triples}
