"""Offline JSON-LD processing: bundled contexts, a network-free document loader, safe-mode checks, RDFC-1.0.

Nothing here touches the network. The document loader serves only the contexts bundled in ``contexts/``
(listed in ``contexts/index.json``) plus documents the caller passes in explicitly; any other URL raises
:class:`DocumentNotBundledError`.

pyld has no JSON-LD *safe mode*: it silently drops undefined terms and (pyld 3, empty base) resolves relative
IRIs against a made-up ``http://example.org/base/``, so a credential that canonicalises fine here is rejected
by verifiers that use safe mode (jsonld.js / Digital Bazaar vc).
:func:`check_all_terms_defined` reproduces the relevant safe-mode failures and :func:`canonicalize` runs it
before producing N-Quads. Requires pyld >= 3.0 (``on_property_dropped`` hook).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import json
import re
import threading
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Generic, TypeVar

from pyld import jsonld as pyld_jsonld

from . import jsonld_cache, jsonld_fast
from .errors import DocumentNotBundledError, JsonLdProcessingError, UndefinedTermError
from .jsonld_rdf import expanded_to_dataset
from .rdf import TermQuad, quad_terms
from .rdfc import WorkBudget, canonicalize_term_quads

if "on_property_dropped" not in inspect.signature(pyld_jsonld.JsonLdProcessor.__init__).parameters:
    # pyld < 3 cannot report dropped terms, so undefined terms would be signed silently.
    raise ImportError("shared.credentials needs pyld >= 3.0 (JsonLdProcessor on_property_dropped)")

DocumentLoader = Callable[[str, dict[str, Any]], dict[str, Any]]
JsonPath = str

_CONTEXTS_PACKAGE_DIR = "contexts"
_JSONLD_KEYWORDS = frozenset(
    [
        "@base",
        "@container",
        "@context",
        "@direction",
        "@graph",
        "@id",
        "@import",
        "@included",
        "@index",
        "@json",
        "@language",
        "@list",
        "@nest",
        "@none",
        "@prefix",
        "@propagate",
        "@protected",
        "@reverse",
        "@set",
        "@type",
        "@value",
        "@version",
        "@vocab",
    ]
)
# Re-expansions allowed to pin down where a partly-defined term is undefined (error path only).
_MAX_LOCATE_EXPANSIONS = 16
_MAX_PATHS_SHOWN = 10
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# base=None: keep relative IRIs relative (pyld 3 otherwise resolves them against its made-up
# "http://example.org/base/", silently signing an IRI nobody wrote); jsonld.js also leaves them relative.
_EXPAND_OPTIONS: dict[str, Any] = {"base": None}
_EXPANSION_MEMO_SIZE = 64
_FAST_PATH_DECLINED = (
    jsonld_fast.NotCovered,
    pyld_jsonld.JsonLdError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    RecursionError,
)
_PYLD_DEFAULT_BASE = getattr(pyld_jsonld, "DEFAULT_BASE_IRI", "http://example.org/base/")


# ----------------------------------------------------------------------------------------------------
# Bundled contexts
# ----------------------------------------------------------------------------------------------------


@functools.cache
def _context_index() -> dict[str, str]:
    index_file = resources.files(__package__).joinpath(_CONTEXTS_PACKAGE_DIR, "index.json")
    return json.loads(index_file.read_text(encoding="utf-8"))


@functools.cache
def _bundled_json(url: str) -> Any:
    # Parsed once per process; callers always get deep copies because pyld mutates loaded contexts.
    filename = _context_index()[url]
    return json.loads(resources.files(__package__).joinpath(_CONTEXTS_PACKAGE_DIR, filename).read_text("utf-8"))


def bundled_context_urls() -> frozenset[str]:
    """Return the URLs of all JSON-LD contexts bundled with this package."""
    return frozenset(_context_index())


def load_bundled_context(url: str) -> dict[str, Any]:
    """Return a (deep) copy of the bundled JSON-LD context document at ``url``."""
    if url not in _context_index():
        raise DocumentNotBundledError(url)
    return copy.deepcopy(_bundled_json(url))


def make_document_loader(extra_documents: Mapping[str, Any] | None = None) -> DocumentLoader:
    """Build a pyld document loader serving the bundled contexts plus ``extra_documents`` (URL -> JSON).

    Extra documents may not replace a bundled context (a caller-supplied "VC v2 context" would change the
    meaning of every credential). Unknown URLs raise :class:`DocumentNotBundledError`; nothing is fetched.
    """
    extras = dict(extra_documents or {})
    shadowed = sorted(set(extras) & bundled_context_urls())
    if shadowed:
        raise ValueError(f"extra documents may not replace bundled contexts: {shadowed}")

    def load(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        if url in _context_index():
            # tag "static" lets pyld keep the processed context in its shared cache across calls.
            return {
                "contentType": "application/ld+json",
                "contextUrl": None,
                "documentUrl": url,
                "document": load_bundled_context(url),
                "tag": "static",
            }
        if url in extras:
            # No "static" tag: caller documents must not leak into pyld's process-wide cache.
            return {
                "contentType": "application/ld+json",
                "contextUrl": None,
                "documentUrl": url,
                "document": copy.deepcopy(extras[url]),
            }
        raise DocumentNotBundledError(url)

    return load


DEFAULT_DOCUMENT_LOADER: DocumentLoader = make_document_loader()
# Bundled contexts (type-scoped ones included) are processed once per process, not once per node.
jsonld_cache.install(bundled_context_urls())


# ----------------------------------------------------------------------------------------------------
# Safe-mode checks
# ----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _pyld_errors() -> Iterator[None]:
    """Translate pyld exceptions into ``CredentialError`` subclasses, surfacing a missing context."""
    try:
        yield
    except pyld_jsonld.JsonLdError as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, DocumentNotBundledError):
                raise cause from exc
            cause = cause.__cause__ or cause.__context__
        raise JsonLdProcessingError(f"JSON-LD processing failed: {exc}") from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # pyld lets plain Python errors escape on some malformed input (e.g. a relative @context IRI);
        # untrusted credentials must get a report, not a crash.
        raise JsonLdProcessingError(f"JSON-LD processing failed: {type(exc).__name__}: {exc}") from exc


@functools.lru_cache(maxsize=4096)
def _is_absolute_iri(value: str) -> bool:
    return bool(_ABSOLUTE_IRI.match(value)) and not value.startswith(_PYLD_DEFAULT_BASE)


@dataclass(frozen=True)
class _Expansion:
    expanded: list[Any]
    dropped: tuple[str | None, ...]
    warnings: tuple[str, ...]


_Remembered = TypeVar("_Remembered")


class _ExpansionMemo(Generic[_Remembered]):
    """The last few expansions (or one-pass statements), by document content: verifying expands the same
    document for the safe-mode check and for the proof hash, and the verifier service reads a credential's
    signed claims before verifying it; with this each document is expanded (or read in one pass) once."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, _Remembered] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(doc: Any, loader: DocumentLoader) -> str | None:
        # Only the bundled-contexts loader: a caller's loader may serve anything under any URL. repr, not
        # json.dumps: exact for parsed JSON, and it tells a tuple from a list and 1 from "1" as a key.
        if loader is not DEFAULT_DOCUMENT_LOADER:
            return None
        try:
            return repr(doc)
        except (RecursionError, ValueError):
            return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, key: str) -> _Remembered | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, expansion: _Remembered) -> None:
        with self._lock:
            self._entries[key] = expansion
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)


_EXPANSIONS: _ExpansionMemo[_Expansion] = _ExpansionMemo(_EXPANSION_MEMO_SIZE)
# One-pass results (a 1-tuple: (None,) when not covered), fewer: a worker verifies one request at a time.
_ONE_PASSES: _ExpansionMemo[tuple[jsonld_fast.DocumentStatements | None]] = _ExpansionMemo(8)


def forget_recent_expansions() -> None:
    """Drop the remembered expansions and one-pass statements (benchmarks measure verifying documents this
    process has not seen)."""
    _EXPANSIONS.clear()
    _ONE_PASSES.clear()


def _expand_uncached(doc: Any, loader: DocumentLoader) -> _Expansion:
    dropped: list[str | None] = []
    with _pyld_errors(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            expanded = jsonld_fast.expand(doc, loader, dropped.append)
        except _FAST_PATH_DECLINED:
            # Not covered by the fast path (or an error pyld should report in its own words): pyld decides.
            dropped.clear()
            caught.clear()
            expanded = jsonld_cache.expand_document(doc, loader, dropped.append)
    return _Expansion(expanded, tuple(dropped), tuple(str(w.message) for w in caught))


def _expansion(doc: Any, loader: DocumentLoader) -> _Expansion:
    key = _EXPANSIONS.key(doc, loader)
    found = _EXPANSIONS.get(key) if key is not None else None
    if found is None:
        found = _expand_uncached(doc, loader)
        if key is not None:
            _EXPANSIONS.put(key, found)
    return found


def _expand_collecting(doc: Any, loader: DocumentLoader) -> tuple[list[Any], list[str | None], list[str]]:
    """Expand ``doc``; return the expansion, the dropped properties and any pyld warnings."""
    found = _expansion(doc, loader)
    return found.expanded, list(found.dropped), list(found.warnings)


def expand(doc: Any, loader: DocumentLoader | None = None) -> list[Any]:
    """Expanded JSON-LD of ``doc`` exactly as pyld's ``expand`` gives it (relative IRIs left relative).

    Bundled contexts are processed once per process and recent expansions are reused, so callers may expand
    the same document for several checks without paying twice. The result is shared: do not modify it.
    Raises :class:`JsonLdProcessingError` (or :class:`DocumentNotBundledError`) when ``doc`` cannot be expanded.
    """
    return _expansion(doc, loader or DEFAULT_DOCUMENT_LOADER).expanded


def _walk_keys(node: Any, path: JsonPath = "$") -> Iterator[tuple[JsonPath, str, Any]]:
    """Yield (path of the containing object, key, value) for every object member outside ``@context``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                continue
            yield path, key, value
            yield from _walk_keys(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk_keys(item, f"{path}[{i}]")


def _without_member(doc: Any, target_path: JsonPath, target_key: str, root: JsonPath) -> Any:
    """Return a copy of ``doc`` with one member removed (used to pin down which occurrence was dropped)."""

    def rebuild(node: Any, path: JsonPath) -> Any:
        if isinstance(node, dict):
            return {
                k: (v if k == "@context" else rebuild(v, f"{path}.{k}"))
                for k, v in node.items()
                if not (path == target_path and k == target_key)
            }
        if isinstance(node, list):
            return [rebuild(item, f"{path}[{i}]") for i, item in enumerate(node)]
        return node

    return rebuild(doc, root)


def _locate_dropped(doc: Any, dropped: list[str | None], loader: DocumentLoader, root: JsonPath) -> list[str]:
    """Map dropped property names to the JSON paths where they occur.

    If a name is dropped as often as it occurs, every occurrence is undefined. Otherwise (a name defined in
    one scope but not another) occurrences are removed one at a time and kept if that removes a drop; this
    costs one expansion each, so it is capped: untrusted input must not make verification slow.
    """
    problems: list[str] = []
    budget = _MAX_LOCATE_EXPANSIONS
    counts = {name: n for name, n in Counter(dropped).items() if name is not None}
    by_name: dict[str, list[tuple[JsonPath, str]]] = {}
    for path, key, _ in _walk_keys(doc, root):
        if key in counts:
            by_name.setdefault(key, []).append((path, key))
    for name, total in sorted(counts.items()):
        occurrences = by_name.get(name, [])
        if len(occurrences) <= total or len(occurrences) > budget:
            found = [f"{path}.{key}" for path, key in occurrences]
            prefix = "" if len(occurrences) <= total else "one of "
        else:
            budget -= len(occurrences)
            found = [
                f"{path}.{key}"
                for path, key in occurrences
                if _expand_collecting(_without_member(doc, path, key, root), loader)[1].count(name) < total
            ]
            prefix = ""
        shown = ", ".join(found[:_MAX_PATHS_SHOWN]) + (
            f" (+{len(found) - _MAX_PATHS_SHOWN} more)" if len(found) > _MAX_PATHS_SHOWN else ""
        )
        where = prefix + shown if found else "(location not found)"
        problems.append(f"undefined term {name!r} at {where}")
    if None in dropped:
        # pyld reports keyword-like keys ("@foo") and terms mapped to null without a name.
        found = [f"{p}.{k}" for p, k, _ in _walk_keys(doc, root) if k.startswith("@") and k not in _JSONLD_KEYWORDS]
        where = ", ".join(found) if found else "(location not found)"
        problems.append(f"{dropped.count(None)} reserved or null-mapped key(s) dropped at {where}")
    return problems


def _relative_iris(expanded: Any) -> Iterator[tuple[str, str]]:
    """Yield (keyword, value) for every ``@id``/``@type`` in expanded JSON-LD that is not an absolute IRI."""
    if isinstance(expanded, list):
        for item in expanded:
            if isinstance(item, list | dict):
                yield from _relative_iris(item)
    elif isinstance(expanded, dict):
        for key, value in expanded.items():
            if key == "@id":
                if isinstance(value, str) and not value.startswith("_:") and not _is_absolute_iri(value):
                    yield "@id", value
            elif key == "@type":
                for t in value if isinstance(value, list) else [value]:
                    if isinstance(t, str) and not t.startswith("@") and not _is_absolute_iri(t):
                        yield "@type", t
            elif key != "@value" and isinstance(value, list | dict):
                yield from _relative_iris(value)


def _string_paths(doc: Any, needle: str, root: JsonPath) -> list[str]:
    paths = []
    for path, key, value in _walk_keys(doc, root):
        values = value if isinstance(value, list) else [value]
        for i, v in enumerate(values):
            if v == needle:
                paths.append(f"{path}.{key}" + (f"[{i}]" if isinstance(value, list) else ""))
    return paths


def _violations(doc: Any, loader: DocumentLoader, root: JsonPath = "$") -> tuple[list[Any], list[str]]:
    """Expand ``doc`` once; return the expansion and the safe-mode violations found."""
    expanded, dropped, warned = _expand_collecting(doc, loader)
    problems = _locate_dropped(doc, dropped, loader, root) if dropped else []
    for keyword, value in dict.fromkeys(_relative_iris(expanded)):
        where = ", ".join(_string_paths(doc, value, root)) or "(location not found)"
        if keyword == "@type":
            problems.append(f"undefined type {value!r} (expands to a relative IRI) at {where}")
        else:
            problems.append(f"id {value!r} is a relative IRI, not a URL at {where}")
    problems.extend(f"JSON-LD warning: {message}" for message in warned)
    return expanded, problems


def find_safe_mode_violations(doc: Any, loader: DocumentLoader | None = None, *, root: JsonPath = "$") -> list[str]:
    """Return human-readable safe-mode violations of ``doc`` (empty list if none).

    Detected: properties pyld drops because no context defines them, ``id``/``type`` values (and value
    datatypes) that are not absolute IRIs after expansion, and pyld warnings (reserved ``@`` terms, bad
    language tags). These are the cases where jsonld.js in safe mode throws. ``root`` prefixes the reported
    JSON paths (e.g. ``"$.proof"`` when checking a proof configuration).
    """
    return _violations(doc, loader or DEFAULT_DOCUMENT_LOADER, root)[1]


def check_all_terms_defined(doc: Any, loader: DocumentLoader | None = None) -> None:
    """Raise :class:`UndefinedTermError` (listing JSON paths) if JSON-LD safe mode would reject ``doc``."""
    problems = find_safe_mode_violations(doc, loader)
    if problems:
        raise UndefinedTermError(problems)


# ----------------------------------------------------------------------------------------------------
# Canonicalisation
# ----------------------------------------------------------------------------------------------------


def compact(expanded: Any, context: Any, loader: DocumentLoader | None = None) -> dict[str, Any]:
    """pyld's compaction of ``expanded`` with ``context`` (the offline loader); errors as
    :class:`JsonLdProcessingError`. For ecdsa-sd-2023's skolemised documents (:mod:`.sd_primitives`)."""
    options = {"documentLoader": loader or DEFAULT_DOCUMENT_LOADER, "base": None}
    with _pyld_errors():
        return pyld_jsonld.compact(expanded, {"@context": context}, options)


def one_pass(doc: Any, loader: DocumentLoader | None = None) -> jsonld_fast.DocumentStatements | None:
    """The RDF statements of ``doc`` in one pass (:func:`jsonld_fast.document_statements`), or ``None`` when
    the one pass does not cover it and the full path (expansion, safe-mode check, :mod:`.jsonld_rdf`) must
    answer. A covered document has no safe-mode violation (it is what ``canonicalize`` signs unchecked).

    Recent answers are reused (by content, with the bundled contexts only). The result is shared: do not modify it.
    """
    loader = loader or DEFAULT_DOCUMENT_LOADER
    key = _ONE_PASSES.key(doc, loader)
    found = _ONE_PASSES.get(key) if key is not None else None
    if found is None:
        try:
            found = (jsonld_fast.document_statements(doc, loader),)
        except _FAST_PATH_DECLINED:
            found = (None,)
        if key is not None:
            _ONE_PASSES.put(key, found)
    return found[0]


def canonicalize(
    doc: Any,
    *,
    loader: DocumentLoader | None = None,
    check_terms: bool = True,
    budget: WorkBudget | None = None,
    hash_algorithm: str = "sha256",
) -> str:
    """Canonicalise a JSON-LD document with RDFC-1.0 to N-Quads (our :mod:`.rdfc`, not pyld's: see there).

    With ``check_terms`` (the default, and required when signing) the document is first checked with
    :func:`check_all_terms_defined`. ``check_terms=False`` gives pyld's lenient result, for verifying
    third-party documents whose safe-mode problems are reported separately. ``budget`` bounds the blank node
    work (:class:`TooComplexError`, ``data.too_complex``, past it). ``hash_algorithm``: RDFC-1.0's hash
    (SHA-384 for ecdsa-rdfc-2019 with a P-384 key).

    A document safe mode accepts goes from JSON to N-Quads terms in one pass (:func:`jsonld_fast.statements`);
    any other takes the full path (expansion, the safe-mode check, :mod:`.jsonld_rdf`). Same N-Quads either way.
    """
    quads = document_term_quads(doc, loader=loader, check_terms=check_terms)
    return canonicalize_term_quads(quads, hash_algorithm=hash_algorithm, budget=budget).nquads


def document_term_quads(doc: Any, *, loader: DocumentLoader | None = None, check_terms: bool = True) -> list[TermQuad]:
    """The RDF dataset of a JSON-LD document as N-Quads term texts (what :func:`canonicalize` canonicalises):
    the one pass for documents safe mode accepts, the full path (expansion, safe-mode check with
    ``check_terms``, :mod:`.jsonld_rdf`) for any other."""
    loader = loader or DEFAULT_DOCUMENT_LOADER
    try:
        # One pass from the document to RDF, for documents safe mode accepts (so the term check passes).
        return jsonld_fast.statements(doc, loader)
    except _FAST_PATH_DECLINED:
        pass  # anything else, and every safe-mode violation, takes the full path below
    if check_terms:
        # Reuse the checked expansion: context processing is most of the cost.
        expanded, problems = _violations(doc, loader)
        if problems:
            raise UndefinedTermError(problems)
    else:
        expanded = expand(doc, loader)  # the one (memoised) expansion the checks use too
    with _pyld_errors():
        dataset = expanded_to_dataset(expanded)
    return [quad_terms(quad) for quad in dict.fromkeys(dataset)]


# Proofs hash through the same path (kept as the name proof.py uses).
canonical_nquads = canonicalize
