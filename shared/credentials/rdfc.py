"""RDF Dataset Canonicalization (RDFC-1.0, W3C Recommendation 2024), with a bound on the work it may do.

Why our own and not pyld's ``URDNA2015``: pyld writes control characters in literals raw (RDFC-1.0 escapes
them, so signatures disagree with rdf-canonize / Digital Bazaar) and has no work limit, so a small credential
holding a clique of blank nodes (the "poison graph" of RDFC-1.0 §4.2 / §8) runs for minutes.

The work bound: every call of *Hash N-Degree Quads* and every permutation it tries costs one unit of work;
a dataset needing more than :data:`DEFAULT_MAX_WORK` units (or running past an optional deadline) is refused
with :class:`TooComplexError` (``data.too_complex``). Credentials met in practice need no N-degree hashing at
all (every blank node has a distinct first-degree hash) or a few dozen units; the W3C suite's hardest
"computable" poison graphs (test044-046) need 3,348; a clique of 6 blank nodes needs 41,046, of 7 about 400,000.
See docs/verification-limits.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import itertools
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from .errors import TooComplexError
from .rdf import Quad, TermQuad, quad_terms

# Units of work (Hash N-Degree Quads calls + permutations tried) allowed per canonicalisation.
DEFAULT_MAX_WORK = 10_000
_DEADLINE_CHECK_EVERY = 256


@dataclass
class WorkBudget:
    """How much N-degree hashing a canonicalisation may do, and until when (``time.monotonic()``)."""

    max_work: int = DEFAULT_MAX_WORK
    deadline: float | None = None
    used: int = 0

    def spend(self, units: int = 1) -> None:
        self.used += units
        if self.used > self.max_work:
            raise TooComplexError(
                f"canonicalising this credential needs more than {self.max_work} steps of blank node "
                "disambiguation (RDFC-1.0 Hash N-Degree Quads); such graphs are refused to keep verification fast"
            )
        if self.deadline is not None and self.used % _DEADLINE_CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TooComplexError("canonicalising this credential ran past its deadline")


@dataclass(frozen=True)
class WorkLimits:
    """The limits every canonicalisation in a scope gets: work units each, and a deadline for all."""

    max_work: int = DEFAULT_MAX_WORK
    deadline: float | None = None

    def budget(self) -> WorkBudget:
        return WorkBudget(self.max_work, self.deadline)


_limits: contextvars.ContextVar[WorkLimits | None] = contextvars.ContextVar("rdfc_work_limits", default=None)


@contextlib.contextmanager
def work_limits(*, max_work: int = DEFAULT_MAX_WORK, seconds: float | None = None) -> Iterator[WorkLimits]:
    """Within this scope, canonicalisations without an explicit budget get ``max_work`` units each and stop
    ``seconds`` from now (verification of one request: its proofs, status lists, all of it)."""
    limits = WorkLimits(max_work, None if seconds is None else time.monotonic() + seconds)
    token = _limits.set(limits)
    try:
        yield limits
    finally:
        _limits.reset(token)


def _line(s: str, p: str, o: str, g: str) -> str:
    return f"{s} {p} {o} {g} .\n" if g else f"{s} {p} {o} .\n"


@dataclass(frozen=True)
class CanonicalDataset:
    """The canonical N-Quads and the issued identifiers map (input blank node id -> canonical id)."""

    nquads: str
    issued: dict[str, str]


@dataclass
class _Issuer:
    """RDFC-1.0 identifier issuer: remembers issue order (the order matters for the canonical result)."""

    prefix: str
    issued: dict[str, str] = field(default_factory=dict)

    def issue(self, blank_id: str) -> str:
        found = self.issued.get(blank_id)
        if found is None:
            found = self.issued[blank_id] = f"{self.prefix}{len(self.issued)}"
        return found

    def copy(self) -> _Issuer:
        return _Issuer(self.prefix, dict(self.issued))


class _Canonicaliser:
    def __init__(self, quads: list[TermQuad], hash_algorithm: str, budget: WorkBudget) -> None:
        self.quads = quads
        self.hash_algorithm = hash_algorithm
        self.budget = budget
        self.canonical = _Issuer("c14n")
        # Blank node ("_:x" text) -> the quads mentioning it, each once.
        self.quads_of: dict[str, list[TermQuad]] = {}
        self.first_degree: dict[str, str] = {}
        for quad in quads:
            s, _, o, g = quad
            if s[0] == "_":
                self.quads_of.setdefault(s, []).append(quad)
            if o[0] == "_" and o != s:
                self.quads_of.setdefault(o, []).append(quad)
            if g and g[0] == "_" and g != s and g != o:
                self.quads_of.setdefault(g, []).append(quad)

    def digest(self, text: str) -> str:
        return hashlib.new(self.hash_algorithm, text.encode("utf-8")).hexdigest()

    def hash_first_degree(self, blank_id: str) -> str:
        """RDFC-1.0 §4.6: hash of the node's quads with itself as ``_:a`` and every other blank node ``_:z``."""
        found = self.first_degree.get(blank_id)
        if found is None:

            def label(term: str) -> str:
                if term[0] != "_":
                    return term
                return "_:a" if term == blank_id else "_:z"

            lines = sorted(_line(label(s), p, label(o), label(g) if g else g) for s, p, o, g in self.quads_of[blank_id])
            found = self.first_degree[blank_id] = self.digest("".join(lines))
        return found

    def hash_related(self, related: str, quad: TermQuad, issuer: _Issuer, position: str) -> str:
        """RDFC-1.0 §4.7 Hash Related Blank Node."""
        if related in self.canonical.issued:
            identifier = "_:" + self.canonical.issued[related]
        elif related in issuer.issued:
            identifier = "_:" + issuer.issued[related]
        else:
            identifier = self.hash_first_degree(related)
        predicate = "" if position == "g" else quad[1]
        return self.digest(position + predicate + identifier)

    def hash_n_degree(self, blank_id: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        """RDFC-1.0 §4.8 Hash N-Degree Quads (the exponential part, hence the budget)."""
        self.budget.spend()
        related_by_hash: dict[str, list[str]] = {}
        for quad in self.quads_of[blank_id]:
            for position, term in (("s", quad[0]), ("o", quad[2]), ("g", quad[3])):
                if term.startswith("_:") and term != blank_id:
                    related_hash = self.hash_related(term, quad, issuer, position)
                    related_by_hash.setdefault(related_hash, []).append(term)
        data = []
        for related_hash, related in sorted(related_by_hash.items()):
            data.append(related_hash)
            chosen_path, chosen_issuer = "", issuer
            for permutation in itertools.permutations(related):
                self.budget.spend()
                issuer_copy, path, recursion = issuer.copy(), "", []
                for node in permutation:
                    if node in self.canonical.issued:
                        path += "_:" + self.canonical.issued[node]
                    else:
                        if node not in issuer_copy.issued:
                            recursion.append(node)
                        path += "_:" + issuer_copy.issue(node)
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        break
                else:
                    for node in recursion:
                        result, issuer_copy = self.hash_n_degree(node, issuer_copy)
                        path += "_:" + issuer_copy.issue(node) + f"<{result}>"
                        if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                            break
                    else:
                        if not chosen_path or path < chosen_path:
                            chosen_path, chosen_issuer = path, issuer_copy
            data.append(chosen_path)
            issuer = chosen_issuer
        return self.digest("".join(data)), issuer

    def run(self) -> CanonicalDataset:
        """RDFC-1.0 §4.5 Canonicalization Algorithm."""
        by_hash: dict[str, list[str]] = {}
        for blank_id in self.quads_of:
            by_hash.setdefault(self.hash_first_degree(blank_id), []).append(blank_id)
        shared: list[list[str]] = []
        for _, ids in sorted(by_hash.items()):
            if len(ids) == 1:
                self.canonical.issue(ids[0])
            else:
                shared.append(ids)
        for ids in shared:
            paths = []
            for blank_id in ids:
                if blank_id in self.canonical.issued:
                    continue
                temporary = _Issuer("b")
                temporary.issue(blank_id)
                paths.append(self.hash_n_degree(blank_id, temporary))
            for _, issuer in sorted(paths, key=lambda found: found[0]):
                for blank_id in issuer.issued:
                    self.canonical.issue(blank_id)

        issued = self.canonical.issued

        def label(term: str) -> str:
            return "_:" + issued[term] if term and term[0] == "_" else term

        nquads = "".join(sorted({_line(label(s), p, label(o), label(g)) for s, p, o, g in self.quads}))
        return CanonicalDataset(nquads, {blank[2:]: canonical for blank, canonical in issued.items()})


def canonicalize_dataset(
    quads: Iterable[Quad], *, hash_algorithm: str = "sha256", budget: WorkBudget | None = None
) -> CanonicalDataset:
    """Canonicalise a dataset (duplicate quads are one quad) with RDFC-1.0.

    Raises :class:`TooComplexError` when the blank node structure needs more work than ``budget`` allows
    (default: the :func:`work_limits` in force, or :data:`DEFAULT_MAX_WORK` and no deadline).
    """
    return canonicalize_term_quads(map(quad_terms, quads), hash_algorithm=hash_algorithm, budget=budget)


def canonicalize_term_quads(
    quads: Iterable[TermQuad], *, hash_algorithm: str = "sha256", budget: WorkBudget | None = None
) -> CanonicalDataset:
    """:func:`canonicalize_dataset` of quads already written as canonical N-Quads terms (:data:`TermQuad`)."""
    distinct = list(dict.fromkeys(quads))
    try:
        return _Canonicaliser(distinct, hash_algorithm, budget or (_limits.get() or WorkLimits()).budget()).run()
    except RecursionError as error:  # Hash N-Degree Quads recursing along a long chain of look-alike nodes
        raise TooComplexError("canonicalising this credential needs too deep blank node disambiguation") from error


def relabelled_nquads(quads: Iterable[TermQuad], labels: Mapping[str, str]) -> list[str]:
    """The distinct N-Quads lines of ``quads``, each blank node ``_:x`` written ``_:`` + ``labels[x]``, in code
    point order: RDFC-1.0's serialisation with other labels (the label replacement of selective disclosure,
    vc-di-ecdsa "labelReplacementCanonicalizeNQuads"). A blank node without a label raises :class:`KeyError`."""

    def label(term: str) -> str:
        return "_:" + labels[term[2:]] if term and term[0] == "_" else term

    return sorted({_line(label(s), p, label(o), label(g)) for s, p, o, g in quads})
