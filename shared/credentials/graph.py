"""What a proof covers: a credential's claims read from its RDF graph, not from its JSON member names.

An ``eddsa-rdfc-2022`` proof signs the canonical RDF dataset of the document, not its JSON. Many JSON texts
give the same dataset: a member written as its full IRI, a term aliased in an inline context, a member moved
under an ``@nest`` alias, an ``@included`` node or an ``@reverse`` property stating the same triple. A check
that reads ``credential["credentialStatus"]`` is blind to all of them, so a holder could re-key the status
entry of a revoked badge and keep a valid signature. Everything here reads the dataset instead (pyld's
``toRdf`` of the expanded document, the same algorithm canonicalisation starts from), so no JSON spelling can
hide a claim the issuer signed. See docs/verification-semantics.md.

:func:`read_credential` takes the *expanded* document without its proof; :func:`read_proof_options` the
expanded proof configuration (the proof without ``proofValue``, with the document's ``@context``), i.e.
exactly the two inputs the cryptosuite hashes. :func:`compact_form_disagreements` lists where the JSON a
person or a wallet reads says something else than the signed graph.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from . import rdf
from .errors import CredentialError
from .jsonld import DocumentLoader, one_pass
from .jsonld_fast import DocumentStatements
from .jsonld_rdf import expanded_to_dataset

VC = "https://www.w3.org/2018/credentials#"
SEC = "https://w3id.org/security#"
STATUS = "https://www.w3.org/ns/credentials/status#"
STATUS_LIST_2021 = "https://w3id.org/vc/status-list#"
OB = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
DC_CREATED = "http://purl.org/dc/terms/created"

VERIFIABLE_CREDENTIAL = VC + "VerifiableCredential"
OPEN_BADGE_CREDENTIAL = OB + "OpenBadgeCredential"  # AchievementCredential is an alias of the same IRI
ENDORSEMENT_CREDENTIAL = OB + "EndorsementCredential"
BITSTRING_STATUS_LIST_ENTRY = STATUS + "BitstringStatusListEntry"
BITSTRING_STATUS_LIST_CREDENTIAL = STATUS + "BitstringStatusListCredential"
# Core type IRIs and the compact terms that stand for them in the VC 2.0 / OB 3.0 contexts.
CORE_TYPE_TERMS: dict[str, frozenset[str]] = {
    VERIFIABLE_CREDENTIAL: frozenset({"VerifiableCredential"}),
    OPEN_BADGE_CREDENTIAL: frozenset({"OpenBadgeCredential", "AchievementCredential"}),
    ENDORSEMENT_CREDENTIAL: frozenset({"EndorsementCredential"}),
    BITSTRING_STATUS_LIST_CREDENTIAL: frozenset({"BitstringStatusListCredential"}),
}
# Validity members: VC 2.0 names and their VC 1.1 counterparts (same vocabulary namespace).
DATE_TERMS = ("validFrom", "validUntil", "issuanceDate", "expirationDate")
ASSERTION_METHOD = SEC + "assertionMethod"
PROOF_TYPE_TERMS = ("DataIntegrityProof", "Ed25519Signature2020")
_PROOF_MARKERS = (RDF_TYPE, SEC + "verificationMethod", SEC + "proofPurpose", SEC + "cryptosuite")


class GraphError(CredentialError):
    """The signed graph does not hold one readable credential (or proof); ``code`` says why."""

    code = "data.graph_invalid"


@dataclass(frozen=True)
class Term:
    """One RDF term: an IRI, a blank node (``_:…``) or a literal's lexical form."""

    kind: str  # "IRI" | "blank node" | "literal"
    value: str

    @property
    def iri(self) -> str | None:
        """The IRI, or ``None`` for a blank node or a literal."""
        return self.value if self.kind == "IRI" else None


def _term(term: rdf.Term) -> Term:
    if isinstance(term, rdf.Iri):
        return Term("IRI", term.value)
    if isinstance(term, rdf.BlankNode):
        return Term("blank node", f"_:{term.id}")
    return Term("literal", term.value)


def _node_key(term: rdf.Iri | rdf.BlankNode) -> str:
    return term.value if type(term) is rdf.Iri else f"_:{term.id}"


def _text_key(text: str) -> str:
    """:func:`_node_key` of an IRI or blank node written as an N-Quads term (``<iri>`` or ``_:label``)."""
    return text[1:-1] if text[0] == "<" else text


def _text_term(text: str) -> Term:
    """:func:`_term` of a term written in canonical N-Quads (IRIs are written as they are)."""
    if text[0] == "<":
        return Term("IRI", text[1:-1])
    if text[0] == "_":
        return Term("blank node", text)
    return Term("literal", rdf.literal_lexical_form(text))


class _DatasetMemo:
    """The datasets of the last few expanded documents, by identity: :func:`~shared.credentials.jsonld.expand`
    hands out the same (shared, never modified) expansion for the same document, so the verifier's two steps —
    reading the signed claims to find the status lists, then verifying — build one dataset, not two. Each entry
    holds its expansion, so an ``id`` cannot be reused while it is remembered."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[Any, list[rdf.Quad]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, expanded: Any) -> list[rdf.Quad] | None:
        with self._lock:
            found = self._entries.get(id(expanded))
            if found is None or found[0] is not expanded:
                return None
            self._entries.move_to_end(id(expanded))
            return found[1]

    def put(self, expanded: Any, dataset: list[rdf.Quad]) -> None:
        with self._lock:
            self._entries[id(expanded)] = (expanded, dataset)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)


# A few: a worker verifies one request at a time, and a dataset is several times the size of its JSON (a 4 MiB
# credential is allowed).
_DATASETS = _DatasetMemo(8)


def rdf_dataset(expanded: Any) -> list[rdf.Quad]:
    """The RDF dataset of an expanded document (what :class:`Triples` reads and RDFC-1.0 canonicalises).

    Build it once and hand it to :func:`read_credential` / :func:`read_proof_options` and to the proof hash
    (:func:`~shared.credentials.proof.proof_hashes` ``datasets``). The result is shared: do not modify it (nor
    ``expanded`` afterwards). Raises :class:`GraphError` when there is none.
    """
    found = _DATASETS.get(expanded)
    if found is not None:
        return found
    # The same linear JSON-LD -> RDF step canonicalisation uses (pyld's toRdf is quadratic in array length).
    try:
        dataset = expanded_to_dataset(expanded if isinstance(expanded, list) else [expanded])
    except (CredentialError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise GraphError(f"cannot read the document as RDF: {type(exc).__name__}: {exc}") from exc
    _DATASETS.put(expanded, dataset)
    return dataset


class Triples:
    """The default graph of a dataset, indexed by subject and predicate.

    ``dataset``, when given, is :func:`rdf_dataset` of ``expanded`` (built once for several readers);
    ``statements``, instead, the same dataset as the one pass writes it (N-Quads term texts, see
    :func:`~shared.credentials.jsonld.one_pass`).
    """

    def __init__(
        self, expanded: Any, dataset: list[rdf.Quad] | None = None, *, statements: list[rdf.TermQuad] | None = None
    ) -> None:
        # Objects are kept as RDF terms (or term texts) and turned into Terms when read: few of them ever are.
        self._index: dict[str, dict[str, list[rdf.Term | str]]] = {}
        self._objects: set[str] = set()
        self._types: dict[str, set[str]] = {}  # subject -> its rdf:type IRIs (every node's are asked for)
        if statements is not None:
            self._add_statements(statements)
            return
        quads = rdf_dataset(expanded) if dataset is None else dataset
        # Only the default graph: embedded proofs and @graph containers are other graphs, not claims.
        for quad in quads:
            if quad.graph is not None:
                continue
            obj, subject, predicate = quad.object, _node_key(quad.subject), quad.predicate.value
            if type(obj) is not rdf.Literal:
                self._objects.add(_node_key(obj))
                if predicate == RDF_TYPE and type(obj) is rdf.Iri:
                    self._types.setdefault(subject, set()).add(obj.value)
            self._add(subject, predicate, obj)

    def _add_statements(self, statements: list[rdf.TermQuad]) -> None:
        # The loop of __init__ over term texts, inlined: it runs for every statement of every document verified.
        index, objects, types = self._index, self._objects, self._types
        for subject_text, predicate_text, obj, graph in statements:
            if graph:
                continue
            subject, predicate, first = _text_key(subject_text), predicate_text[1:-1], obj[0]
            if first != '"':
                objects.add(obj[1:-1] if first == "<" else obj)
                if first == "<" and predicate == RDF_TYPE:
                    types.setdefault(subject, set()).add(obj[1:-1])
            by_predicate = index.get(subject)
            if by_predicate is None:
                index[subject] = {predicate: [obj]}
                continue
            found = by_predicate.get(predicate)
            if found is None:
                by_predicate[predicate] = [obj]
            else:
                found.append(obj)

    def _add(self, subject: str, predicate: str, obj: rdf.Term | str) -> None:
        by_predicate = self._index.get(subject)
        if by_predicate is None:
            by_predicate = self._index[subject] = {}
        by_predicate.setdefault(predicate, []).append(obj)

    def objects(self, subject: str, predicate: str) -> list[Term]:
        """Every object of ``subject predicate ?o``."""
        found = self._index.get(subject)
        return [_text_term(o) if type(o) is str else _term(o) for o in found.get(predicate, ())] if found else []

    def types(self, subject: str) -> frozenset[str]:
        """The ``rdf:type`` IRIs of ``subject`` (however the JSON wrote them)."""
        return frozenset(self._types.get(subject, ()))

    def is_object(self, node: str) -> bool:
        """True if ``node`` is the object of some triple."""
        return node in self._objects

    def subjects(self) -> list[str]:
        """Every subject of the default graph."""
        return list(self._index)

    def subjects_of_type(self, type_iri: str) -> list[str]:
        """Subjects with ``rdf:type type_iri``."""
        return [s for s in self._index if type_iri in self._types.get(s, ())]

    def one(self, subject: str, predicate: str, name: str) -> Term | None:
        """The single object of a single-valued property; several values are refused, not picked from."""
        values = list(dict.fromkeys(self.objects(subject, predicate)))
        if len(values) > 1:
            raise GraphError(f"{name} has {len(values)} values in the signed graph", code="data.multiple_values")
        return values[0] if values else None


@dataclass(frozen=True)
class SignedStatusEntry:
    """A ``credentialStatus`` entry as signed (lexical values; validated by :mod:`.status`)."""

    types: frozenset[str]
    purpose: str | None
    index: str | None
    list_url: str | None
    size: str | None
    id: str | None = None  # the entry's own IRI (a 1EdTechRevocationList's list URL)

    @property
    def is_bitstring(self) -> bool:
        """True for a ``BitstringStatusListEntry``."""
        return BITSTRING_STATUS_LIST_ENTRY in self.types


@dataclass(frozen=True)
class SignedCredential:
    """The claims of a credential that its proof covers. Dates are lexical forms (``None`` when absent)."""

    id: str | None
    types: frozenset[str]
    issuer: str | None
    subjects: int
    dates: dict[str, str | None]
    status: tuple[SignedStatusEntry, ...]

    @property
    def valid_from(self) -> tuple[str, str] | None:
        """(member name, value) of the start of validity: validFrom, else VC 1.1 issuanceDate."""
        return self._first("validFrom", "issuanceDate")

    @property
    def valid_until(self) -> tuple[str, str] | None:
        """(member name, value) of the end of validity: validUntil, else VC 1.1 expirationDate."""
        return self._first("validUntil", "expirationDate")

    def _first(self, *names: str) -> tuple[str, str] | None:
        for name in names:
            value = self.dates.get(name)
            if value is not None:
                return name, value
        return None


@dataclass(frozen=True)
class SignedProofOptions:
    """A proof's options as its configuration graph states them."""

    type: str | None
    cryptosuite: str | None
    verification_method: str | None
    proof_purpose: str | None
    created: str | None
    expires: str | None


def _literal(term: Term | None) -> str | None:
    return term.value if term is not None and term.kind == "literal" else None


def _node_id(subject: str) -> str | None:
    return None if subject.startswith("_:") else subject


def _status_entry(triples: Triples, node: str) -> SignedStatusEntry:
    types = triples.types(node)
    # StatusList2021Entry members have the same names in the Status List 2021 vocabulary.
    ns = STATUS_LIST_2021 if STATUS_LIST_2021 + "StatusList2021Entry" in types else STATUS
    url = triples.one(node, ns + "statusListCredential", "statusListCredential")
    return SignedStatusEntry(
        types=types,
        purpose=_literal(triples.one(node, ns + "statusPurpose", "statusPurpose")),
        index=_literal(triples.one(node, ns + "statusListIndex", "statusListIndex")),
        list_url=url.iri if url is not None else None,
        size=_literal(triples.one(node, STATUS + "statusSize", "statusSize")),
        id=_node_id(node),
    )


def _credential_node(expanded_document: Any, triples: Triples) -> str:
    """The credential's node: the document's top node when it has an IRI, else the only top-level VC node.

    Other credentials can sit in the same graph (OB endorsements embedded in an achievement), and the
    credential itself can be the object of a triple (a refreshService or evidence naming it), so: the node the
    JSON's top object is, when it has an id; otherwise the one node typed VerifiableCredential that nothing
    points to (a blank top node cannot be pointed to), or the only one at all.
    """
    top = [n for n in expanded_document if isinstance(n, dict)] if isinstance(expanded_document, list) else []
    return _credential_node_named(top[0].get("@id") if len(top) == 1 else None, triples)


def _credential_node_named(top_id: Any, triples: Triples) -> str:
    """:func:`_credential_node` given the ``@id`` of the document's top node (``None`` when it has none)."""
    nodes = triples.subjects_of_type(VERIFIABLE_CREDENTIAL)
    if isinstance(top_id, str) and not top_id.startswith("_:"):
        if top_id not in nodes:
            raise GraphError(
                f"{top_id} is not typed VerifiableCredential in the signed graph", code="data.invalid_type"
            )
        return top_id
    roots = [n for n in nodes if not triples.is_object(n)]
    if len(roots) == 1:
        return roots[0]
    if len(nodes) == 1:
        return nodes[0]
    raise GraphError(
        f"the signed graph holds {len(nodes)} nodes typed VerifiableCredential and none is the document's",
        code="data.not_one_credential",
    )


def read_credential(expanded_document: Any, *, dataset: list[rdf.Quad] | None = None) -> SignedCredential:
    """Read the credential from its expanded document (without proof); raise :class:`GraphError` if none.

    Which node is the credential: see :func:`_credential_node` (no candidate, or several, is an error).
    ``dataset``: the document's :func:`rdf_dataset`, when the caller has built it already.
    """
    triples = Triples(expanded_document, dataset)
    return _signed_credential(triples, _credential_node(expanded_document, triples))


def readable_statements(document: Any, loader: DocumentLoader | None = None) -> DocumentStatements | None:
    """The one pass's statements of ``document`` (:func:`~shared.credentials.jsonld.one_pass`), or ``None``
    when the full path must read it: not covered (every safe-mode violation included), or a top node that states
    nothing (see :func:`read_credential_statements`)."""
    found = one_pass(document, loader)
    if found is None or not any(quad[0] == found.top for quad in found.quads):
        return None
    return found


def read_credential_statements(statements: DocumentStatements) -> SignedCredential:
    """:func:`read_credential` from the one pass's statements of the document without proof (see
    :func:`~shared.credentials.jsonld.one_pass`), for a document whose top node states something: pyld drops a
    top node that states nothing from the expansion, or keeps it, by rules the one pass does not follow."""
    triples = Triples(None, statements=statements.quads)
    top = statements.top
    return _signed_credential(triples, _credential_node_named(top[1:-1] if top[0] == "<" else None, triples))


def _signed_credential(triples: Triples, node: str) -> SignedCredential:
    issuer = triples.one(node, VC + "issuer", "issuer")
    return SignedCredential(
        id=_node_id(node),
        types=triples.types(node),
        issuer=issuer.iri if issuer is not None else None,
        subjects=len(triples.objects(node, VC + "credentialSubject")),
        dates={name: _literal(triples.one(node, VC + name, name)) for name in DATE_TERMS},
        status=tuple(
            _status_entry(triples, entry.value)
            for entry in dict.fromkeys(triples.objects(node, VC + "credentialStatus"))
            if entry.kind != "literal"
        ),
    )


def read_proof_options(expanded_config: Any, *, dataset: list[rdf.Quad] | None = None) -> SignedProofOptions:
    """Read one proof's options from its expanded configuration (the proof without ``proofValue``).

    ``dataset``: the configuration's :func:`rdf_dataset`, when the caller has built it already.
    """
    return _proof_options(Triples(expanded_config, dataset))


def read_proof_options_statements(statements: list[rdf.TermQuad]) -> SignedProofOptions:
    """:func:`read_proof_options` from the one pass's statements of the configuration."""
    return _proof_options(Triples(None, statements=statements))


def _proof_options(triples: Triples) -> SignedProofOptions:
    nodes = [s for s in triples.subjects() if any(triples.objects(s, p) for p in _PROOF_MARKERS)]
    if len(nodes) != 1:
        raise GraphError("the proof configuration does not describe exactly one proof", code="proof.malformed")
    node = nodes[0]
    types = sorted(triples.types(node))
    method = triples.one(node, SEC + "verificationMethod", "verificationMethod")
    purpose = triples.one(node, SEC + "proofPurpose", "proofPurpose")
    return SignedProofOptions(
        type=types[0] if len(types) == 1 else None,
        cryptosuite=_literal(triples.one(node, SEC + "cryptosuite", "cryptosuite")),
        verification_method=method.iri if method is not None else None,
        proof_purpose=purpose.iri if purpose is not None else None,
        created=_literal(triples.one(node, DC_CREATED, "created")),
        expires=_literal(triples.one(node, SEC + "expiration", "expires")),
    )


# ----------------------------------------------------------------------------------------------------
# The compact (JSON) view against the signed graph
# ----------------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _compact_issuer(credential: dict[str, Any]) -> Any:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def _is_bitstring_entry(entry: Any) -> bool:
    return isinstance(entry, dict) and "BitstringStatusListEntry" in _as_list(entry.get("type"))


def _compact_status(entry: dict[str, Any]) -> tuple[Any, ...]:
    index = entry.get("statusListIndex")
    return (
        entry.get("statusPurpose"),
        str(index) if isinstance(index, int) else index,
        entry.get("statusListCredential"),
    )


def compact_form_disagreements(credential: dict[str, Any], signed: SignedCredential) -> list[str]:
    """Where the credential's plain compact members differ from its signed graph (empty when they agree).

    A difference means a core member is spelt some other way (full IRI key, inline alias, ``@nest``,
    ``@included``…): the verdict still comes from the graph, but such a document is refused because anything
    that reads its JSON (a badge page, a wallet, the OB JSON schema) would show something nobody signed.
    """
    found: list[str] = []
    if _compact_issuer(credential) != signed.issuer:
        found.append(f"issuer is {_compact_issuer(credential)!r} in the JSON but {signed.issuer!r} as signed")
    compact_types = {t for t in _as_list(credential.get("type")) if isinstance(t, str)}
    for iri, terms in CORE_TYPE_TERMS.items():
        if bool(compact_types & terms) != (iri in signed.types):
            found.append(f"type {min(terms)} is {'not ' if iri in signed.types else ''}in the JSON type list")
    for name in DATE_TERMS:
        compact = credential.get(name)
        if compact != signed.dates.get(name):
            found.append(f"{name} is {compact!r} in the JSON but {signed.dates.get(name)!r} as signed")
    entries = _as_list(credential.get("credentialStatus"))
    compact_status = sorted(repr(_compact_status(e)) for e in entries if _is_bitstring_entry(e))
    signed_status = sorted(repr((e.purpose, e.index, e.list_url)) for e in signed.status if e.is_bitstring)
    if len(entries) != len(signed.status) or compact_status != signed_status:
        found.append(
            f"credentialStatus has {len(entries)} entries in the JSON but {len(signed.status)} as signed, "
            "or their BitstringStatusListEntry members differ"
        )
    if len(_as_list(credential.get("credentialSubject"))) != signed.subjects:
        found.append("credentialSubject differs between the JSON and the signed graph")
    compact_id = credential.get("id")
    if compact_id != signed.id and not (compact_id is None and signed.id is None):
        found.append(f"id is {compact_id!r} in the JSON but {signed.id!r} as signed")
    return found


def proof_form_disagreements(proof: dict[str, Any], signed: SignedProofOptions) -> list[str]:
    """Where a proof's compact members differ from its signed configuration graph."""
    found: list[str] = []
    compact_type = proof.get("type")
    expected_type = SEC + compact_type if compact_type in PROOF_TYPE_TERMS else compact_type
    pairs = (
        ("type", expected_type, signed.type),
        ("cryptosuite", proof.get("cryptosuite"), signed.cryptosuite),
        ("verificationMethod", proof.get("verificationMethod"), signed.verification_method),
        (
            "proofPurpose is assertionMethod",
            proof.get("proofPurpose") == "assertionMethod",
            signed.proof_purpose == ASSERTION_METHOD,
        ),
        ("created", proof.get("created"), signed.created),
        ("expires", proof.get("expires"), signed.expires),
    )
    for name, compact, graph in pairs:
        if compact != graph:
            found.append(f"proof {name} is {compact!r} in the JSON but {graph!r} as signed")
    return found
