"""The selective disclosure functions of vc-di-ecdsa 1.0 §3.4 a base proof needs: skolemisation, JSON pointer
selection, and canonicalizeAndGroup (which N-Quads the mandatory pointers select).

Only a *holder* (or whoever checks a base proof as the holder does) needs them: a derived proof carries the
mandatory statements' positions itself (:mod:`shared.credentials.ecdsa_sd`).

- skolemizeExpandedJsonLd: every node object without ``@id`` gets ``urn:custom-scheme:_<random>_<n>``, a blank
  node ``_:x`` becomes ``urn:custom-scheme:x``; value objects are kept. Unlike the algorithm's text (and Digital
  Bazaar), ``@list`` / ``@set`` objects get no ``@id``: an ``@id`` there is invalid JSON-LD, which is why Digital
  Bazaar cannot sign a document with a list (OB 3.0 ``allowedValue``).
- The skolemised document is compacted with the document's ``@context`` (pyld), the JSON pointers select from it
  (selectJsonLd: the selected values, plus ``@context`` and the ``id`` / ``type`` of every object on the way),
  and the selection's N-Quads, deskolemised and relabelled like the whole document's, are the group.
- Deskolemisation works on RDF terms (an IRI ``<urn:custom-scheme:x>`` becomes the blank node ``_:x``), not on
  N-Quads text, so a literal containing that text stays as it is.
"""

from __future__ import annotations

import copy
import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import CredentialError
from .jsonld import DocumentLoader, compact, document_term_quads, expand
from .jsonld_rdf import expanded_to_dataset
from .rdf import TermQuad, quad_terms
from .rdfc import canonicalize_term_quads, relabelled_nquads

_URN = "urn:custom-scheme:"
_POINTER_INDEX = re.compile(r"0|[1-9][0-9]*")


class SelectionError(CredentialError):
    """A JSON pointer does not select anything in the document (or is not a JSON pointer)."""

    code = "proof.sd_pointer_invalid"


class _Sparse(dict[int, Any]):
    """An array being selected: the chosen indexes only (selectJsonLd's sparse array, compacted at the end)."""


def json_pointer_paths(pointer: str) -> list[str | int]:
    """jsonPointerToPaths (RFC 6901): the path segments, array indexes as integers."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise SelectionError(f"{pointer!r} is not a JSON pointer to a value inside the document")
    paths: list[str | int] = []
    for segment in pointer.split("/")[1:]:
        if "~" in segment:
            paths.append(segment.replace("~1", "/").replace("~0", "~"))
        else:
            paths.append(int(segment) if _POINTER_INDEX.fullmatch(segment) else segment)
    return paths


def _initial_selection(source: Any) -> dict[str, Any]:
    """createInitialSelection: the ``id`` (unless a blank node) and ``type`` of an object on a selected path."""
    selection: dict[str, Any] = {}
    if isinstance(source, dict):
        if isinstance(source.get("id"), str) and not source["id"].startswith("_:"):
            selection["id"] = source["id"]
        if "type" in source:
            selection["type"] = copy.deepcopy(source["type"])
    return selection


def _child(parent: Any, path: str | int, pointer: str) -> Any:
    if isinstance(parent, list) and isinstance(path, int) and path < len(parent):
        return parent[path]
    if isinstance(parent, dict) and str(path) in parent:
        return parent[str(path)]
    raise SelectionError(f"JSON pointer {pointer!r} does not match the document")


def _selected_child(parent: Any, key: str | int) -> Any:
    if isinstance(parent, dict):
        return parent.get(key)  # type: ignore[call-overload]
    if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
        return parent[key]  # a whole array selected before: go on inside it
    return None


def _select(document: dict[str, Any], pointer: str, selection: dict[str, Any]) -> None:
    """selectPaths: add what ``pointer`` selects in ``document`` to ``selection``."""
    paths = json_pointer_paths(pointer)
    value: Any = document
    selected_parent: Any = selection
    selected_value: Any = selection
    for path in paths:
        selected_parent = selected_value
        value = _child(value, path, pointer)
        key: str | int = (
            str(path) if isinstance(selected_parent, dict) and not isinstance(selected_parent, _Sparse) else path
        )
        selected_value = _selected_child(selected_parent, key)
        if selected_value is None:
            selected_value = _Sparse() if isinstance(value, list) else _initial_selection(value)
            selected_parent[key] = selected_value
    if isinstance(value, list):
        selected_value = copy.deepcopy(value)
    elif isinstance(value, dict):
        selected_value = {**selected_value, **copy.deepcopy(value)} if isinstance(selected_value, dict) else value
    else:
        selected_value = value
    selected_parent[key] = selected_value


def _compacted(node: Any) -> Any:
    if isinstance(node, _Sparse):
        return [_compacted(v) for _, v in sorted(node.items())]
    if isinstance(node, dict):
        return {k: _compacted(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_compacted(v) for v in node]
    return node


def select_json_ld(document: dict[str, Any], pointers: list[str]) -> dict[str, Any] | None:
    """selectJsonLd: the part of ``document`` the JSON ``pointers`` select, ``None`` for no pointers."""
    if not pointers:
        return None
    selection = _initial_selection(document)
    if "@context" in document:
        selection["@context"] = copy.deepcopy(document["@context"])
    for pointer in pointers:
        _select(document, pointer, selection)
    return _compacted(selection)


def skolemize_expanded(expanded: list[Any], random: str, counter: Iterator[int]) -> list[Any]:
    """skolemizeExpandedJsonLd (see the module docstring for ``@list`` objects)."""
    skolemized = []
    for element in expanded:
        if not isinstance(element, dict) or "@value" in element:
            skolemized.append(copy.deepcopy(element))
            continue
        node = {
            key: skolemize_expanded(value, random, counter)
            if isinstance(value, list)
            else skolemize_expanded([value], random, counter)[0]
            for key, value in element.items()
        }
        if "@list" not in node and "@set" not in node:
            identifier = node.get("@id")
            if identifier is None:
                node["@id"] = f"{_URN}_{random}_{next(counter)}"
            elif isinstance(identifier, str) and identifier.startswith("_:"):
                node["@id"] = _URN + identifier[2:]
        skolemized.append(node)
    return skolemized


def _deskolemized(quads: list[TermQuad]) -> list[TermQuad]:
    def term(text: str) -> str:
        return "_:" + text[len(_URN) + 1 : -1] if text.startswith("<" + _URN) else text

    return [(term(s), p, term(o), term(g) if g else g) for s, p, o, g in quads]


@dataclass(frozen=True)
class Grouped:
    """canonicalizeAndGroup with one group: the HMAC-relabelled canonical N-Quads and the selected ones."""

    nquads: list[str]
    matching: set[int]  # indexes into nquads of the statements the pointers select

    @property
    def selected(self) -> list[str]:
        return [nq for i, nq in enumerate(self.nquads) if i in self.matching]

    @property
    def others(self) -> list[str]:
        return [nq for i, nq in enumerate(self.nquads) if i not in self.matching]


def canonicalize_and_group(
    document: dict[str, Any], labels_for: Any, pointers: list[str], *, loader: DocumentLoader | None = None
) -> Grouped:
    """canonicalizeAndGroup for one group of ``pointers``; ``labels_for`` is the label map factory (canonical
    id map: blank node -> ``c14nN``, to: blank node -> new label), e.g. the base proof's HMAC labels.

    Raises :class:`SelectionError` for a pointer that selects nothing, :class:`CredentialError` when the
    document cannot be processed."""
    skolemized = skolemize_expanded(expand(document, loader), uuid.uuid4().hex, itertools.count())
    quads = _deskolemized([quad_terms(q) for q in dict.fromkeys(expanded_to_dataset(skolemized))])
    labels = labels_for(canonicalize_term_quads(quads).issued)
    nquads = relabelled_nquads(quads, labels)
    selection = select_json_ld(compact(skolemized, document.get("@context"), loader), pointers)
    if selection is None:
        return Grouped(nquads, set())
    selected_quads = _deskolemized(document_term_quads(selection, loader=loader, check_terms=False))
    try:
        selected = set(relabelled_nquads(selected_quads, labels))
    except KeyError as exc:
        raise SelectionError(f"the selection has a blank node the document does not: {exc}") from exc
    return Grouped(nquads, {i for i, nq in enumerate(nquads) if nq in selected})
