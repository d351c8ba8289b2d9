"""Process each bundled JSON-LD context once per process, type- and property-scoped ones included.

pyld caches processed contexts per active context, but keys that cache by a ``_uuid`` it regenerates for every
context it builds, and builds the key of every scoped context by JCS-canonicalising it. So the type-scoped
contexts of Open Badges 3.0 (one per OB type, several per credential) are processed again for every node of
every document: about half the cost of signing or verifying a credential.

This module wraps ``JsonLdProcessor._process_context`` with a cache keyed by the *identity* of the active context
and of the local context, used only where identity means content: the active context is one this cache (or
pyld's frozen initial context) produced, and the local context is a bundled context URL (their content never
changes: they are read-only files of this package), a list of those, ``null``, or a scoped context object found
inside a cached processed context. Everything else — inline contexts in a document, caller-supplied documents,
import cycles — goes through pyld unchanged. Entries are never evicted (cached objects must stay alive for their
``id()`` to stay unique) but their number is capped, so hostile documents cannot grow it without bound.

The patch is installed once, on import, for the pyld versions it was checked against (it relies on the
signature and purity of ``_process_context``); with any other pyld it is not installed and pyld runs as is
(slower, same results). ``tests/unit/credentials/test_jsonld_fast_path.py`` checks the results are identical.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
import warnings
from collections.abc import Callable, Hashable, Iterator
from importlib.metadata import version
from typing import Any

from pyld import jsonld as pyld_jsonld
from pyld.context_resolver import ContextResolver

# pyld versions whose _process_context this wrapper was read against (signature, purity, frozen results).
CHECKED_PYLD_VERSIONS = ("3.3.",)
_MAX_ENTRIES = 512  # our credentials need about a dozen; each holds all its term definitions
_MAX_IRI_ENTRIES = 65536

_ProcessContext = Callable[..., Any]


class ContextCache:
    """Processed contexts keyed by (active context identity, local context identity, processing flags)."""

    def __init__(self, static_urls: frozenset[str], max_entries: int = _MAX_ENTRIES) -> None:
        self._static_urls = static_urls
        self._max_entries = max_entries
        self._results: dict[Hashable, Any] = {}
        # id -> object for every context object whose identity stands for its content; holding the object
        # keeps its id from being reused.
        self._known: dict[int, Any] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._results)

    def knows(self, ctx: Any) -> bool:
        """True if ``ctx`` is a context whose identity stands for its content (cached or pyld's initial one)."""
        return self._known.get(id(ctx)) is ctx

    def knows_scoped(self, local_ctx: Any) -> bool:
        """True if ``local_ctx`` is a scoped context taken from a cached context's term definitions."""
        return self._known.get(id(local_ctx)) is local_ctx

    def remember(self, ctx: Any) -> None:
        """Keep ``ctx`` (a context that never changes, e.g. pyld's initial one) as known."""
        with self._lock:
            self._remember(ctx)

    def _local_key(self, local_ctx: Any) -> Hashable | None:
        if isinstance(local_ctx, str):
            return local_ctx if local_ctx in self._static_urls else None
        if local_ctx is None or local_ctx is False:
            return ("null", local_ctx)
        if isinstance(local_ctx, list):
            keys = tuple(self._local_key(item) for item in local_ctx)
            return None if any(k is None for k in keys) else ("list", keys)
        if id(local_ctx) in self._known and self._known[id(local_ctx)] is local_ctx:
            return ("object", id(local_ctx))
        return None

    def key(self, active_ctx: Any, local_ctx: Any, options: dict[str, Any], flags: tuple[Any, ...]) -> Hashable | None:
        """The cache key for this call, or ``None`` when the result must not be cached."""
        if self._known.get(id(active_ctx)) is not active_ctx:
            # pyld creates its frozen initial context lazily, once per processing mode.
            if not any(active_ctx is ctx for ctx in pyld_jsonld.INITIAL_CONTEXTS.values()):
                return None
            self._known[id(active_ctx)] = active_ctx
        local = self._local_key(local_ctx)
        if local is None:
            return None
        return (id(active_ctx), local, flags, options.get("processingMode"), options.get("base"))

    def get(self, key: Hashable) -> Any | None:
        result = self._results.get(key)
        if result is not None:
            self.hits += 1
        return result

    def put(self, key: Hashable, result: Any) -> None:
        with self._lock:
            self.misses += 1
            if len(self._results) >= self._max_entries:
                return
            self._results[key] = result
            self._remember(result)

    def _remember(self, ctx: Any) -> None:
        # The result, the context it reverts to, and every scoped context in its term definitions.
        while isinstance(ctx, dict) and self._known.get(id(ctx)) is not ctx:
            self._known[id(ctx)] = ctx
            for definition in ctx.get("mappings", {}).values():
                scoped = definition.get("@context") if isinstance(definition, dict) else None
                if isinstance(scoped, dict):
                    self._known.setdefault(id(scoped), scoped)
            ctx = ctx.get("previousContext")


def _cached(original: _ProcessContext, cache: ContextCache) -> _ProcessContext:
    def process_context(
        self: Any,
        active_ctx: Any,
        local_ctx: Any,
        options: dict[str, Any],
        override_protected: bool = False,
        propagate: bool = True,
        validate_scoped: bool = True,
        cycles: Any = None,
    ) -> Any:
        key = None if cycles else cache.key(active_ctx, local_ctx, options, (override_protected, propagate))
        if key is None:
            if cache.knows(active_ctx):
                # pyld would find this (inline, caller-supplied) context in its own cache, keyed by the active
                # context's _uuid, and skip its warnings; with our long-lived contexts that happens on every
                # repeat. A fresh _uuid keeps the safe-mode check's warnings the same on every run.
                active_ctx = {**active_ctx, "_uuid": str(uuid.uuid1())}
            return original(
                self, active_ctx, local_ctx, options, override_protected, propagate, validate_scoped, cycles
            )
        result = cache.get(key)
        if result is not None:
            return result
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = original(self, active_ctx, local_ctx, options, override_protected, propagate, validate_scoped)
        for warning in caught:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        if not caught:
            # A context whose processing warns must warn every time (the safe-mode check reports warnings).
            cache.put(key, result)
        return result

    process_context.__wrapped__ = original  # type: ignore[attr-defined]
    return process_context


def _memoized_expand_iri(original: Callable[..., Any], cache: ContextCache) -> Callable[..., Any]:
    # Expanding a term or compact IRI against a cached context is a pure function of (context, value, base,
    # vocab) outside context processing (local_ctx/defined unset); it is a third of pyld's expansion time.
    memo: dict[Hashable, Any] = {}

    def expand_iri(
        self: Any,
        active_ctx: Any,
        value: Any,
        base: Any = None,
        vocab: bool = False,
        local_ctx: Any = None,
        defined: Any = None,
    ) -> Any:
        if local_ctx is not None or defined is not None or not isinstance(value, str):
            return original(self, active_ctx, value, base, vocab, local_ctx, defined)
        key = (id(active_ctx), value, base, vocab)
        try:
            return memo[key]
        except KeyError:
            pass
        result = original(self, active_ctx, value, base, vocab)
        if cache.knows(active_ctx):
            if len(memo) >= _MAX_IRI_ENTRIES:
                memo.clear()  # documents choose the values: stay bounded
            memo[key] = result
        return result

    expand_iri.__wrapped__ = original  # type: ignore[attr-defined]
    return expand_iri


_installed: ContextCache | None = None


def expand_document(
    doc: Any, loader: Callable[..., Any], on_property_dropped: Callable[[str | None], None] | None = None
) -> list[Any]:
    """pyld's ``expand(doc, {"base": None})`` of an in-memory document, without its defensive deep copy.

    pyld's expansion never mutates its input (the copy guards remote documents it loads). The result may
    share ``@json`` literal values with ``doc``: treat both as read-only. Falls back to pyld's public
    ``expand`` for a pyld version this module was not checked against.
    """
    processor = pyld_jsonld.JsonLdProcessor(on_property_dropped=on_property_dropped)
    if _installed is None:
        return processor.expand(doc, {"base": None, "documentLoader": loader})
    options = {
        "base": None,
        "documentLoader": loader,
        "contextResolver": ContextResolver(pyld_jsonld._resolved_context_cache, loader),
        "isFrame": False,
        "keepFreeFloatingNodes": False,
        "extractAllScripts": False,
        "processingMode": "json-ld-1.1",
    }
    # The tail of JsonLdProcessor.expand: expand, drop a lone top-level @graph wrapper, return an array.
    expanded = processor._expand(processor._get_initial_context(options), None, doc, options, inside_list=False)
    if isinstance(expanded, dict) and "@graph" in expanded and len(expanded) == 1:
        expanded = expanded["@graph"]
    elif expanded is None:
        expanded = []
    return pyld_jsonld.JsonLdProcessor.arrayify(expanded)


@contextlib.contextmanager
def bypassed() -> Iterator[None]:
    """Run plain pyld inside the block (the reference in differential tests; not thread-safe)."""
    processor = pyld_jsonld.JsonLdProcessor
    patched = processor._process_context, processor._expand_iri
    processor._process_context = getattr(patched[0], "__wrapped__", patched[0])  # type: ignore[method-assign]
    processor._expand_iri = getattr(patched[1], "__wrapped__", patched[1])  # type: ignore[method-assign]
    try:
        yield
    finally:
        processor._process_context, processor._expand_iri = patched  # type: ignore[method-assign]


def installed() -> ContextCache | None:
    """The installed cache, or ``None`` (unchecked pyld version: nothing is patched)."""
    return _installed


def install(static_urls: frozenset[str]) -> ContextCache | None:
    """Install the cache on pyld (once; idempotent). Returns it, or ``None`` for an unchecked pyld version."""
    global _installed
    if _installed is not None:
        return _installed
    if not version("PyLD").startswith(CHECKED_PYLD_VERSIONS):
        return None
    processor = pyld_jsonld.JsonLdProcessor
    cache = ContextCache(static_urls)
    processor._process_context = _cached(processor._process_context, cache)  # type: ignore[method-assign]
    processor._expand_iri = _memoized_expand_iri(processor._expand_iri, cache)  # type: ignore[method-assign]
    _installed = cache
    return cache
