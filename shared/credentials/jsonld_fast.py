"""A fast JSON-LD expansion and JSON-LD -> RDF path for the documents credentials are made of; pyld does the rest.

pyld's expansion is general (framing, every container, every keyword) and pays for it on every key of every
node. The documents we sign and verify use a small part of JSON-LD: bundled contexts (processed once, by pyld,
see :mod:`.jsonld_cache`), type- and property-scoped contexts, ``@id``/``@type`` aliases, ``@set``/``@list``/
``@graph`` containers, typed and ``@json`` values. :func:`expand` follows pyld's expansion algorithm step for
step for exactly that part, using pyld's own processed contexts and term definitions, and gives up
(:class:`NotCovered`) on anything else — any other keyword in the document, a context that is not bundled, an
index/language/id/type map, ``@nest``, reverse properties — so that the caller expands the whole document with
pyld instead.

:func:`statements` goes further for documents safe mode accepts (what we sign, and what verifies): the same walk
writes the RDF statements directly, as canonical N-Quads term texts, with no expanded JSON-LD in between and no
pyld call once every context and term met has been compiled; RDFC-1.0 (:mod:`.rdfc`) hashes those texts. Any
document it does not cover, including every one with a safe-mode violation, raises :class:`NotCovered` and goes
the full way (expansion with its safe-mode report, :mod:`.jsonld_rdf`).

Correctness is checked differentially (``tests/unit/credentials/test_jsonld_fast_path.py`` for expansion,
``test_jsonld_one_pass.py`` for :func:`statements`): the same expanded JSON-LD and the same canonical N-Quads as
pyld for every credential shape we make, the 1EdTech vector and validator cases, and generated OB 3.0
credentials.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

from pyld import jsonld as pyld_jsonld
from pyld.context_resolver import ContextResolver

from . import jsonld_cache
from .rdf import TermQuad, escape_literal

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
_RDF_JSON_LITERAL = pyld_jsonld.RDF_JSON_LITERAL
_MAX_DEPTH = 200


class NotCovered(Exception):
    """The document uses JSON-LD this path does not implement: use pyld for the whole document."""


def _is_absolute(value: Any) -> bool:
    return isinstance(value, str) and _ABSOLUTE_IRI.match(value) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class _Term:
    """What expansion needs to know about one key in one (cached, never changing) active context."""

    __slots__ = ("absolute", "container", "context", "direction", "iri", "language", "predicate", "reverse", "type")

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
        # The term as an N-Quads predicate; None where the one-pass path must leave it to the full path.
        self.predicate = _iri_term(self.iri) if isinstance(self.iri, str) and self.iri not in _KEYWORDS else None


# Keyed by id() of contexts that live for the whole process (pyld's initial contexts and the ones in
# jsonld_cache), so an id is never reused; bounded because documents choose the keys.
_TERMS: dict[tuple[int, str | None], _Term] = {}
_TRANSITIONS: dict[tuple[Any, ...], Any] = {}
_MAX_MEMO = 20_000
_INITIAL: Any = None  # pyld's initial context (base None, JSON-LD 1.1): one frozen object per process


class _Expansion:
    """One document's expansion; mirrors JsonLdProcessor._expand/_expand_object/_prepare_nested_context."""

    def __init__(self, loader: Callable[..., Any], on_property_dropped: Callable[[str | None], None]) -> None:
        self._loader = loader
        self._dropped = on_property_dropped
        cache = jsonld_cache.installed()
        if cache is None:
            raise NotCovered("pyld version not checked")
        self._cache = cache

    # pyld's processor and options are needed only when a context or term is met for the first time.
    @functools.cached_property
    def _processor(self) -> Any:
        return pyld_jsonld.JsonLdProcessor()

    @functools.cached_property
    def _options(self) -> dict[str, Any]:
        return {
            "base": None,
            "documentLoader": self._loader,
            "contextResolver": ContextResolver(pyld_jsonld._resolved_context_cache, self._loader),
            "isFrame": False,
            "keepFreeFloatingNodes": False,
            "extractAllScripts": False,
            "processingMode": "json-ld-1.1",
        }

    def _initial_context(self) -> Any:
        global _INITIAL
        if _INITIAL is None:
            _INITIAL = self._processor._get_initial_context(self._options)
            self._cache.remember(_INITIAL)
        return _INITIAL

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
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = self._processor._process_context(
                    ctx, local, self._options, override_protected=override_protected, propagate=propagate
                )
            if caught or not self._cache.knows(result):
                # Not a cached (static) context: per-context memos would be keyed by a transient object; a
                # warning must reach the safe-mode check, which the full path gives.
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
        """An ``@id`` value expanded as pyld's ``_expand_iri(ctx, value, base=None)`` does: a compact IRI whose
        prefix is a prefix term is expanded, anything else (absolute, blank or relative) is kept as is."""
        if value[:1] == "@":
            return self._processor._expand_iri(ctx, value, base=None)  # keywords and keyword-like values
        colon = value.find(":")
        if colon > 0 and not value.startswith("//", colon + 1):
            mapping = ctx["mappings"].get(value[:colon])
            if mapping and mapping.get("_prefix"):
                return mapping["@id"] + value[colon + 1 :]
        return value

    # -- expansion ------------------------------------------------------------------------------------

    def expand_document(self, doc: Any) -> list[Any]:
        expanded = self._expand(self._initial_context(), None, doc, False, None, 0)
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

        expanded_active_property = self._term(ctx, active_property).iri
        ctx, type_scoped, items = self._node_contexts(ctx, active_property, element, type_scoped)
        node: dict[str, Any] = {}
        self._expand_object(ctx, element, items, node, type_scoped, depth)

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

    def _node_contexts(
        self, ctx: Any, active_property: str | None, element: dict[str, Any], type_scoped: Any
    ) -> tuple[Any, Any, list[tuple[str, Any]]]:
        """A node object's active context, the context its types expand in and its members sorted: the context
        steps of pyld's ``_expand`` (revert, property-scoped, embedded, type-scoped contexts), and its ``@json``
        check."""
        property_scoped = self._term(ctx, active_property).context
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
        if type_key is not None:
            first = element[type_key]
            first = first[0] if first and isinstance(first, list) else first
            if isinstance(first, str) and self._term(ctx, first).iri == "@json":
                raise NotCovered("@json node")
        return ctx, type_scoped, items

    def _expand_object(
        self,
        ctx: Any,
        element: dict[str, Any],
        items: list[tuple[str, Any]],
        node: dict[str, Any],
        type_scoped: Any,
        depth: int,
    ) -> None:
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
# Compact JSON-LD -> RDF in one pass, as canonical N-Quads terms
# ----------------------------------------------------------------------------------------------------

_RDF_TYPE_TERM = f"<{_RDF_TYPE}>"
_RDF_FIRST_TERM = f"<{_RDF_FIRST}>"
_RDF_REST_TERM = f"<{_RDF_REST}>"
_RDF_NIL_TERM = f"<{_RDF_NIL}>"
# The safe-mode check's test of an absolute IRI (jsonld._is_absolute_iri): pyld's made-up base is not one.
_SAFE_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_PYLD_DEFAULT_BASE = getattr(pyld_jsonld, "DEFAULT_BASE_IRI", "http://example.org/base/")
_DOUBLE_EXPONENT = re.compile(r"(\d)0*E\+?(-)?0*(\d)")
_MAX_INTEGER = 10**21  # from here pyld writes integers as doubles: left to it


def _iri_term(iri: str) -> str | None:
    """``<iri>`` for an IRI both RDF conversion and the safe-mode check take as absolute, else ``None``."""
    if (
        iri.startswith("_:")
        or _ABSOLUTE_IRI.match(iri) is None
        or _SAFE_ABSOLUTE.match(iri) is None
        or iri.startswith(_PYLD_DEFAULT_BASE)
    ):
        return None
    return f"<{iri}>"


def _double(value: float) -> str:
    # pyld's (and jsonld.js's) canonical xsd:double form
    return _DOUBLE_EXPONENT.sub(r"\1E\2\3", f"{value:1.15E}")


def _literal(value: Any, datatype: str | None) -> str:
    """The N-Quads text of the literal pyld's ``_object_to_rdf`` makes of ``{"@value": value, "@type": datatype}``."""
    if isinstance(value, bool):
        lexical, datatype = ("true" if value else "false"), datatype or _XSD_BOOLEAN
    elif isinstance(value, float) and not value.is_integer():
        if value != value or value in (float("inf"), float("-inf")):
            raise NotCovered("not a finite number")
        lexical, datatype = _double(value), datatype or _XSD_DOUBLE
    elif datatype == _XSD_DOUBLE:
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                lexical = value
            else:
                if number != number or number in (float("inf"), float("-inf")):
                    raise NotCovered("not a finite number")
                lexical = _double(number)
        elif isinstance(value, int | float) and abs(value) < _MAX_INTEGER:
            lexical = _double(float(value))
        else:
            raise NotCovered("number")
    elif isinstance(value, int | float):
        if abs(value) >= _MAX_INTEGER:
            raise NotCovered("large number")
        lexical, datatype = str(int(value)), datatype or _XSD_INTEGER
    elif isinstance(value, str):
        lexical = value
    else:
        raise NotCovered("value type")
    text = f'"{escape_literal(lexical)}"'
    return text if datatype is None or datatype == _XSD_STRING else f"{text}^^<{datatype}>"


class _Statements(_Expansion):
    """One document straight to RDF: the walk of :class:`_Expansion`, writing quads instead of expanded JSON-LD.

    It covers clean documents only: a term JSON-LD would drop, an ``id``/``type``/datatype that is not an
    absolute IRI, a language or direction, anything the expansion above does not cover — all raise
    :class:`NotCovered`, so such a document takes the full path (and its safe-mode report) instead.
    """

    def __init__(self, loader: Callable[..., Any]) -> None:
        super().__init__(loader, _refuse_dropped)
        self.quads: dict[TermQuad, None] = {}
        self._labels: dict[str, str] = {}

    def document(self, doc: Any) -> DocumentStatements:
        if not isinstance(doc, dict):
            raise NotCovered("document is not an object")
        top = self._node(self._initial_context(), None, doc, 0)
        return DocumentStatements(list(self.quads), top)

    def _blank(self, label: str | None = None) -> str:
        # Document labels are renamed too, so that they never collide with the ones issued here.
        key = f"\x00{len(self._labels)}" if label is None else label
        found = self._labels.get(key)
        if found is None:
            found = self._labels[key] = f"_:b{len(self._labels)}"
        return found

    def _resource(self, iri: Any) -> str:
        if not isinstance(iri, str):
            raise NotCovered("IRI not a string")
        if iri.startswith("_:"):
            return self._blank(iri)
        term = _iri_term(iri)
        if term is None:
            raise NotCovered("relative IRI")  # a safe-mode violation: the full path reports it
        return term

    def _node(self, ctx: Any, active_property: str | None, element: dict[str, Any], depth: int) -> str:
        """Write a node object's statements (mirrors :meth:`_Expansion._expand`); return its subject term."""
        if depth > _MAX_DEPTH:
            raise NotCovered("too deep")
        ctx, type_scoped, items = self._node_contexts(ctx, active_property, element, None)
        subject: str | None = None
        types: list[str] = []
        properties: list[tuple[str, _Term, Any]] = []
        for key, value in items:
            if key == "@context":
                continue
            term = self._term(ctx, key)
            prop = term.iri
            if prop == "@id":
                if subject is not None or not isinstance(value, str):
                    raise NotCovered("@id twice or not a string")
                subject = self._resource(self._document_iri(ctx, value))
            elif prop == "@type":
                if value is None or isinstance(value, dict):
                    raise NotCovered("@type null or object")
                for type_ in _as_list(value):
                    if not isinstance(type_, str):
                        raise NotCovered("@type not strings")
                    types.append(self._resource(self._term(type_scoped, type_).iri))
            elif term.predicate is None:
                raise NotCovered(f"term {key!r}")  # undefined (dropped), another keyword, or not an IRI
            else:
                properties.append((key, term, value))
        if subject is None:
            subject = self._blank()
        quads = self.quads
        for type_term in types:
            if type_term.startswith("_:"):
                raise NotCovered("blank node type")
            quads[subject, _RDF_TYPE_TERM, type_term, ""] = None
        for key, term, value in properties:
            if term.reverse:
                raise NotCovered("reverse property")
            container = term.container
            if container and not container <= _SET_OR_LIST:
                raise NotCovered("container")
            term_ctx = ctx
            if term.context is not None:
                term_ctx = self._process(ctx, term.context, propagate=True, override_protected=True)
            objects: list[str] | None
            if term.type == "@json":
                objects = [_literal_json(value)]
            elif term_ctx is ctx and not isinstance(value, dict | list):
                objects = None if value is None else [self._value(ctx, term, value)]
            else:
                objects = self._objects(term_ctx, key, value, False, depth + 1)
            if objects is None:
                continue
            if "@list" in container:
                objects = [self._list(objects)]
            predicate = term.predicate
            for obj in objects:
                quads[subject, predicate, obj, ""] = None  # type: ignore[index]
        return subject

    def _objects(self, ctx: Any, active_property: str, element: Any, inside_list: bool, depth: int) -> list[str] | None:
        """The objects a property value stands for (mirrors :meth:`_Expansion._expand`); None for null."""
        if depth > _MAX_DEPTH:
            raise NotCovered("too deep")
        if element is None:
            return None
        if isinstance(element, list):
            inside_list = inside_list or "@list" in self._term(ctx, active_property).container
            out: list[str] = []
            for item in element:
                if inside_list and isinstance(item, list):
                    raise NotCovered("list of lists")
                found = self._objects(ctx, active_property, item, inside_list, depth + 1)
                if found:
                    out.extend(found)
            return out
        if isinstance(element, dict):
            return [self._node(ctx, active_property, element, depth)]
        term = self._term(ctx, active_property)
        if term.iri == "@graph" or term.type == "@json":
            raise NotCovered("@graph or @json value")
        return [self._value(ctx, term, element)]

    def _value(self, ctx: Any, term: _Term, value: Any) -> str:
        """Mirrors :meth:`_Expansion._value` and the literal conversion of pyld's ``_object_to_rdf``."""
        if term.iri in _KEYWORDS:
            raise NotCovered("keyword value")
        type_ = term.type
        if type_ == "@id" and isinstance(value, str):
            return self._resource(self._document_iri(ctx, value))
        if type_ == "@vocab" and isinstance(value, str):
            return self._resource(self._term(ctx, value).iri)
        datatype = None
        if type_ is not None and type_ not in ("@id", "@vocab", "@none"):
            if type_ == "@json" or _iri_term(type_) is None:
                raise NotCovered("datatype")
            datatype = type_
        elif isinstance(value, str) and (term.language is not None or term.direction is not None):
            raise NotCovered("language or direction")
        return _literal(value, datatype)

    def _list(self, objects: list[str]) -> str:
        if not objects:
            return _RDF_NIL_TERM
        cells = [self._blank() for _ in objects]
        last = len(cells) - 1
        for i, (cell, obj) in enumerate(zip(cells, objects, strict=True)):
            self.quads[cell, _RDF_FIRST_TERM, obj, ""] = None
            self.quads[cell, _RDF_REST_TERM, cells[i + 1] if i < last else _RDF_NIL_TERM, ""] = None
        return cells[0]


_SET_OR_LIST = frozenset({"@set", "@list"})


def _literal_json(value: Any) -> str:
    text = pyld_jsonld.canonicalize(value).decode("utf-8")
    return f'"{escape_literal(text)}"^^<{_RDF_JSON_LITERAL}>'


def _refuse_dropped(_: str | None) -> None:
    raise NotCovered("undefined term")


class DocumentStatements(NamedTuple):
    """A document's RDF dataset from the one pass: its distinct quads as N-Quads term texts, and ``top``, the
    term of the document's own node (what a verifier reads the credential from)."""

    quads: list[TermQuad]
    top: str


def statements(doc: Any, loader: Callable[..., Any]) -> list[TermQuad]:
    """The RDF dataset of ``doc`` (distinct quads as N-Quads terms), exactly as pyld's expansion and ``to_rdf``
    give it, for a document the safe-mode check passes; raises :class:`NotCovered` for any other document."""
    return _Statements(loader).document(doc).quads


def document_statements(doc: Any, loader: Callable[..., Any]) -> DocumentStatements:
    """:func:`statements` with the term of the document's own node."""
    return _Statements(loader).document(doc)
