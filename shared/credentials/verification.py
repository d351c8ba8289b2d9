"""Full verification of an Open Badges 3.0 credential into a JSON-serialisable report (pure: no I/O).

Checks, in order: structure, OB 3.0 JSON schema, JSON-LD safe mode (all terms defined), the signed claims,
then per proof its suite, the issuer key (resolution, controller == issuer, did:key form, assertionMethod
authorisation) and the signature, then the validity window and the credential status (Bitstring Status List).

Every decision (issuer, types, validity, status, proof options) is taken from what the proof covers — the
RDF graph of the expanded document (:mod:`shared.credentials.graph`) — never from JSON member names, and a
document whose plain JSON members disagree with that graph is refused (``data.compact_form_mismatch``): see
docs/verification-semantics.md. Proof sets follow VC Data Integrity 1.0 ("Proof Sets", "Verify Proof Sets
and Chains"): each proof is verified on its own and the credential is verified when a proof by the issuer is.

Everything outside the credential — issuer DID/key documents, status list credentials — comes in a
:class:`~shared.credentials.documents.DocumentSet` gathered beforehand (``verify_with_fetch`` in
:mod:`shared.credentials.online` fetches it) or through an injected ``KeyResolver``.

Outcomes: ``passed``; ``failed`` (the credential is wrong: bad signature, expired, revoked, key not the
issuer's); ``undetermined`` (could not find out: unsupported suite, key or status list unreachable);
``skipped`` (not asked for); ``not_applicable`` (the Open Badges checks of a credential that is not an Open
Badge: ``ob.not_an_open_badge``). ``verified`` is true only when no check failed or was undetermined; the
report's ``open_badge`` says whether what verified is an Open Badge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from .dates import parse_xsd_datetime, require_aware
from .documents import DocumentSet
from .ecdsa_sd import is_derived_proof_value
from .errors import CredentialError, KeyResolutionError
from .graph import (
    ENDORSEMENT_CREDENTIAL,
    OPEN_BADGE_CREDENTIAL,
    SEC,
    VERIFIABLE_CREDENTIAL,
    SignedCredential,
    SignedProofOptions,
    SignedStatusEntry,
    compact_form_disagreements,
    proof_form_disagreements,
    rdf_dataset,
    read_credential,
    read_credential_statements,
    read_proof_options,
    read_proof_options_statements,
    readable_statements,
)
from .jsonld import DocumentLoader, expand, find_safe_mode_violations
from .keys import DID_KEY_PREFIX
from .legacy_status import (
    STATUS_LIST_2021_ENTRY,
    is_1edtech_revocation_list,
    revocation_list_check,
    status_list_2021_bit,
)
from .multikey import PublicKey
from .proof import ASSERTION_METHOD, Dataset
from .resolver import INCONCLUSIVE_KEY_CODES, DocumentResolver, KeyResolver, named_key
from .schema import disclosed_schema_problems, schema_problems
from .status import STATUS_WORDS, StatusListError, decode_bitstring, list_subject, read_status, status_entry
from .structure import OB_CREDENTIAL_TYPES, OB_V3_CONTEXTS, structure_problems
from .suites import ECDSA_SD_2023, is_supported, suite_name, verify_embedded_proof
from .untrusted_json import json_problem

Outcome = Literal["passed", "failed", "undetermined", "skipped", "not_applicable"]
VerificationProfile = Literal["auto", "ob3", "vc"]
CredentialStatusWord = Literal["active", "revoked", "suspended", "undetermined"]
_MAX_PROBLEMS_SHOWN = 20
# Tolerated difference between our clock and the issuer's on validFrom/validUntil and a proof's created and
# expires (the same default as Digital Bazaar's vc, maxClockSkew = 300 s). VC Data Model 2.0, "Validity Period",
# compares those instants with the current time; clocks are never exactly in step, so an exact comparison
# would reject a badge issued "now" by an issuer whose clock runs a few seconds ahead.
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


class CheckResult(BaseModel):
    """One verification check. ``code`` is stable and machine-readable; ``message`` is for people."""

    check: str
    outcome: Outcome
    code: str
    message: str


class ProofResult(BaseModel):
    """The outcome of one proof of the credential's proof set: ``code`` is ``proof.valid`` or why it did not."""

    index: int
    verified: bool
    code: str
    verification_method: str | None = None
    suite: str | None = None


class VerificationReport(BaseModel):
    """All checks run on a credential; ``verified`` is true only if no check failed or was undetermined.

    ``status`` summarises the credential status checks: ``active``, ``revoked``, ``suspended``,
    ``undetermined``, or ``None`` when the credential has no status entry or status was not checked.
    """

    verified: bool
    checks: list[CheckResult] = Field(default_factory=list)
    credential_id: str | None = None
    issuer_id: str | None = None
    verification_method: str | None = None
    status: CredentialStatusWord | None = None
    proofs: list[ProofResult] = Field(default_factory=list)
    # True: checked as an Open Badge (OB 3.0 rules); False: a plain Verifiable Credential (a status list, any VC
    # 2.0 credential), verified without the OB checks; None: the input was not read far enough to tell.
    open_badge: bool | None = None

    def failures(self) -> list[CheckResult]:
        """Return the checks that failed or could not be determined."""
        return [c for c in self.checks if c.outcome in ("failed", "undetermined")]

    def codes(self) -> set[str]:
        """Return the codes of failed or undetermined checks (handy in tests and logs)."""
        return {c.code for c in self.failures()}


def _passed(check: str, message: str, code: str = "ok") -> CheckResult:
    return CheckResult(check=check, outcome="passed", code=code, message=message)


def _failed(check: str, code: str, message: str) -> CheckResult:
    return CheckResult(check=check, outcome="failed", code=code, message=message)


def _undetermined(check: str, code: str, message: str) -> CheckResult:
    return CheckResult(check=check, outcome="undetermined", code=code, message=message)


def _skipped(check: str, code: str, message: str) -> CheckResult:
    return CheckResult(check=check, outcome="skipped", code=code, message=message)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _summary(problems: list[str]) -> str:
    shown = problems[:_MAX_PROBLEMS_SHOWN]
    more = f"; (+{len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
    return "; ".join(shown) + more


def presents_as_open_badge(credential: dict[str, Any], signed: SignedCredential | None) -> bool:
    """Whether ``credential`` claims to be an Open Badge: an OB credential type (in its JSON or its signed
    graph) or an OB 3.0 context. Such a credential gets every OB 3.0 check, so a badge with a wrong type or a
    missing context fails rather than passing as a plain VC; anything else is verified as a VC."""
    types = _as_list(credential.get("type"))
    if any(t in OB_CREDENTIAL_TYPES for t in types):
        return True
    if signed is not None and signed.types & {OPEN_BADGE_CREDENTIAL, ENDORSEMENT_CREDENTIAL}:
        return True
    return any(isinstance(c, str) and c in OB_V3_CONTEXTS for c in _as_list(credential.get("@context")))


def _not_an_open_badge(credential: dict[str, Any]) -> CheckResult:
    types = ", ".join(str(t) for t in _as_list(credential.get("type"))) or "no type"
    message = (
        f"not an Open Badge ({types}): a Verifiable Credential, verified without the Open Badges 3.0 checks "
        "(schema, achievement)"
    )
    return CheckResult(check="ob.profile", outcome="not_applicable", code="ob.not_an_open_badge", message=message)


def _check_structure(credential: dict[str, Any], profile: str) -> list[CheckResult]:
    problems = structure_problems(credential, profile=profile)
    if not problems:
        return [_passed("structure", "credential structure is valid")]
    return [_failed(p.check, p.code, p.message) for p in problems]


def _check_schema(credential: dict[str, Any], disclosed: bool = False) -> CheckResult:
    """``disclosed``: the credential is selectively disclosed (its counted proofs are derived ecdsa-sd-2023), so
    properties the schema requires may have been withheld by the holder (see disclosed_schema_problems)."""
    if not disclosed:
        problems = schema_problems(credential)
        if problems:
            return _failed("schema", "schema.invalid", _summary(problems))
        return _passed("schema", "credential matches the Open Badges 3.0 JSON schema")
    problems, withheld = disclosed_schema_problems(credential)
    if problems:
        return _failed("schema", "schema.invalid", _summary(problems))
    if withheld:
        message = f"the disclosed claims match the Open Badges 3.0 JSON schema; not disclosed: {_summary(withheld)}"
        return _passed("schema", message, "schema.partly_disclosed")
    return _passed("schema", "credential matches the Open Badges 3.0 JSON schema")


_TERMS_DEFINED = "all terms are defined by the credential's contexts"


def _check_terms(credential: dict[str, Any], loader: DocumentLoader | None, one_pass_covered: bool) -> CheckResult:
    # Verifiers canonicalise the document in safe mode (each proof configuration: see _check_proof_form).
    if one_pass_covered:
        return _passed("data.terms", _TERMS_DEFINED)  # the one pass covers only documents safe mode accepts
    document = {k: v for k, v in credential.items() if k != "proof"}
    try:
        problems = find_safe_mode_violations(document, loader)
    except CredentialError as exc:
        return _failed("data.terms", exc.code, str(exc))
    if problems:
        return _failed("data.terms", "data.undefined_term", _summary(problems))
    return _passed("data.terms", _TERMS_DEFINED)


def _parse_time(value: str | None) -> datetime | None:
    return parse_xsd_datetime(value) if value is not None else None


@dataclass(frozen=True)
class _ProofForm:
    """A proof's form check, its signed options and its configuration's RDF dataset (hashed by the signature
    check: the configuration is expanded and turned into RDF once)."""

    check: CheckResult
    options: SignedProofOptions | None = None
    dataset: Dataset | None = None


def _check_proof_form(proof: Any, context: Any, loader: DocumentLoader | None) -> _ProofForm:
    """Check a proof's options, read from its signed configuration graph (and the same in its JSON)."""
    if not isinstance(proof, dict):
        return _ProofForm(_failed("proof.suite", "proof.malformed", "proof is not a JSON object"))
    suite = suite_name(proof)
    if not is_supported(proof):
        message = f"unsupported proof suite {suite!r}"
        return _ProofForm(_undetermined("proof.suite", "proof.unsupported_cryptosuite", message))
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = context  # as the cryptosuite hashes it
    statements = readable_statements(config, loader)
    dataset: Dataset
    try:
        if statements is not None:
            # Covered by the one pass, hence accepted by safe mode: read (and later hash) its statements.
            dataset = statements.quads
            signed = read_proof_options_statements(dataset)
        else:
            # Verifiers canonicalise the proof configuration in safe mode too.
            undefined = find_safe_mode_violations(config, loader, root="$.proof")
            if undefined:
                return _ProofForm(_failed("proof.suite", "data.undefined_term", _summary(undefined)))
            expanded = expand(config, loader)
            dataset = rdf_dataset(expanded)
            signed = read_proof_options(expanded, dataset=dataset)
    except CredentialError as exc:
        return _ProofForm(_failed("proof.suite", exc.code, f"proof configuration cannot be read: {exc}"))
    mismatches = proof_form_disagreements(proof, signed)
    if mismatches:
        return _ProofForm(_failed("proof.suite", "data.compact_form_mismatch", _summary(mismatches)), signed)
    if signed.proof_purpose != SEC + ASSERTION_METHOD:
        check = _failed("proof.suite", "proof.invalid_purpose", "proofPurpose must be assertionMethod")
        return _ProofForm(check, signed)
    if signed.verification_method is None:
        return _ProofForm(_failed("proof.suite", "proof.malformed", "proof has no verificationMethod"), signed)
    label = f"{proof.get('type')} / {suite}" if proof.get("cryptosuite") else str(suite)
    return _ProofForm(_passed("proof.suite", label), signed, dataset)


def _check_proof_time(signed: SignedProofOptions, now: datetime, clock_skew: timedelta) -> CheckResult | None:
    """A proof created in the future or expired (VC Data Integrity 1.0, "Proofs": ``created``, ``expires``).

    ``created`` says when the proof was made, so one made later than now is not credible; ``expires`` says
    when it stops being valid. Both allow for clock skew, as validFrom/validUntil do.
    """
    try:
        created, expires = _parse_time(signed.created), _parse_time(signed.expires)
    except ValueError as exc:
        return _failed("proof.time", "proof.malformed", f"malformed proof: {exc}")
    if created is not None and created > now + clock_skew:
        return _failed("proof.time", "proof.created_in_future", f"proof created {signed.created}, in the future")
    if expires is not None and expires < now - clock_skew:
        return _failed("proof.time", "proof.expired", f"proof expired at {signed.expires}")
    return None


def _unbound_key_check(vm_id: str, issuer: str | None, error: KeyResolutionError) -> CheckResult:
    """The key named in the method id itself checks the signature, but nothing shows the issuer holds it."""
    base = vm_id.partition("#")[0]
    if base != issuer:
        message = f"key {vm_id} does not belong to the issuer {issuer}, and cannot be resolved: {error}"
        return _failed("issuer.key", "issuer.key_mismatch", message)
    message = (
        f"the key is only named in the verificationMethod {vm_id}; no document of the issuer binds it to "
        f"{issuer} ({error})"
    )
    if error.code in INCONCLUSIVE_KEY_CODES:
        return _undetermined("issuer.key", "issuer.key_unbound", message)
    return _failed("issuer.key", "issuer.key_unbound", message)


def check_key(
    vm_id: str, issuer: str | None, resolver: KeyResolver, trust_named_keys: bool
) -> tuple[CheckResult, PublicKey | None]:
    """Resolve the key and check it is the issuer's; return the key to check the signature with, if any."""
    if vm_id.startswith(DID_KEY_PREFIX):
        did, _, fragment = vm_id.partition("#")
        if fragment != did[len(DID_KEY_PREFIX) :]:
            message = f"did:key verification method must be {did}#{did[len(DID_KEY_PREFIX) :]}"
            return _failed("issuer.key", "issuer.verification_method_invalid", message), named_key(vm_id)
    try:
        method = resolver.resolve_verification_method(vm_id)
    except KeyResolutionError as exc:
        fallback = named_key(vm_id)
        if fallback is not None and exc.code != "issuer.key_revoked":
            if trust_named_keys and vm_id.partition("#")[0] == issuer:
                message = f"key named in {vm_id} accepted without a controller document (trust_named_keys)"
                return _passed("issuer.key", message, "issuer.key_named"), fallback
            return _unbound_key_check(vm_id, issuer, exc), fallback
        if exc.code in INCONCLUSIVE_KEY_CODES:
            return _undetermined("issuer.key", exc.code, str(exc)), None
        return _failed("issuer.key", exc.code, str(exc)), None
    if method.controller != issuer:
        message = f"key {vm_id} is controlled by {method.controller}, not by the issuer {issuer}"
        return _failed("issuer.key", "issuer.key_mismatch", message), method.public_key
    if ASSERTION_METHOD not in method.purposes:
        message = f"issuer does not list {vm_id} under assertionMethod"
        return _failed("issuer.key", "issuer.key_not_authorized", message), method.public_key
    return _passed("issuer.key", f"key {vm_id} belongs to the issuer"), method.public_key


@dataclass(frozen=True)
class _Verifying:
    """What every proof and status check of one verification needs (see verify_credential)."""

    issuer: str | None
    resolver: KeyResolver
    loader: DocumentLoader | None
    trust_named_keys: bool
    now: datetime
    clock_skew: timedelta
    # The RDF dataset of the credential without its proof (None when it could not be built: the proof check
    # then builds its own and reports why it cannot, exactly as without it).
    unsecured_dataset: Dataset | None = None


def _check_one_proof(credential: dict[str, Any], proof: Any, ctx: _Verifying) -> list[CheckResult]:
    issuer, resolver, loader = ctx.issuer, ctx.resolver, ctx.loader
    checked = _check_proof_form(proof, credential.get("@context"), loader)
    form, options = checked.check, checked.options
    if form.outcome != "passed" or options is None:
        return [
            form,
            _undetermined("issuer.key", "issuer.not_checked", "no supported proof"),
            _undetermined("proof.signature", "proof.not_checked", "no supported proof"),
        ]
    key_check, key = check_key(proof["verificationMethod"], issuer, resolver, ctx.trust_named_keys)
    if key is None:
        return [form, key_check, _undetermined("proof.signature", "proof.not_checked", "no usable issuer key")]
    datasets = None
    if ctx.unsecured_dataset is not None and checked.dataset is not None:
        datasets = (ctx.unsecured_dataset, checked.dataset)
    result = verify_embedded_proof(credential, proof, key, loader=loader, datasets=datasets)
    outcome: Outcome = "passed" if result.valid else "failed"
    signature = CheckResult(check="proof.signature", outcome=outcome, code=result.code, message=result.message)
    time_check = _check_proof_time(options, ctx.now, ctx.clock_skew)
    return [form, key_check, signature] + ([time_check] if time_check else [])


def _check_proofs(credential: dict[str, Any], ctx: _Verifying) -> tuple[list[CheckResult], list[ProofResult]]:
    """Check each proof of the proof set on its own (VC Data Integrity 1.0, "Proof Sets").

    "Verify Proof Sets and Chains" verifies every proof independently and hands back the successful results;
    which of them a verifier requires is its policy. Ours, like jsonld-signatures' ``ProofSet`` (verified
    when *some* proof verifies): the credential's proofs pass when at least one proof by a key of the issuer
    verifies. Proofs that do not verify are then listed in ``proofs`` and summarised in a ``proof.set`` check,
    not counted against the credential: anyone can append a proof, so a junk one must not make a genuine badge
    fail (and a stranger's valid proof does not vouch for anything, its key not being the issuer's).
    """
    proofs = _as_list(credential.get("proof"))
    if not proofs:
        return [
            _failed("proof.suite", "proof.missing", "credential has no proof"),
            _undetermined("issuer.key", "issuer.not_checked", "no proof"),
            _undetermined("proof.signature", "proof.not_checked", "no proof"),
        ], []
    per_proof: list[list[CheckResult]] = []
    results: list[ProofResult] = []
    for i, proof in enumerate(proofs):
        label = f"proof[{i}]: " if len(proofs) > 1 else ""
        checks = _check_one_proof(credential, proof, ctx)
        per_proof.append([c.model_copy(update={"message": label + c.message}) for c in checks] if label else checks)
        failing = [c for c in checks if c.outcome != "passed"]
        vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
        results.append(
            ProofResult(
                index=i,
                verified=not failing,
                code=failing[0].code if failing else "proof.valid",
                verification_method=vm if isinstance(vm, str) else None,
                suite=suite_name(proof),
            )
        )
    verified = [i for i, r in enumerate(results) if r.verified]
    if not verified:
        return [c for checks in per_proof for c in checks], results
    checks = [c for i in verified for c in per_proof[i]]
    ignored = [r for r in results if not r.verified]
    # A proof whose terms are undefined is not a proof of another party but an error in the credential, as an
    # undefined term anywhere else is: the credential fails, whichever proof verified.
    context = credential.get("@context")
    ill_formed = [
        r for r in ignored if r.code.startswith("data.") or _has_undefined_terms(proofs[r.index], context, ctx)
    ]
    if ill_formed:
        listed = ", ".join(f"proof[{r.index}]" for r in ill_formed)
        message = f"{listed} is not well-formed JSON-LD (every proof is part of the credential)"
        checks.append(_failed("proof.set", "data.undefined_term", message))
        ignored = [r for r in ignored if r not in ill_formed]
    if ignored:
        listed = ", ".join(f"proof[{r.index}] ({r.code})" for r in ignored)
        verb = "is" if len(ignored) == 1 else "are"
        message = f"{listed} did not verify and {verb} not counted: a proof by the issuer verified"
        checks.append(_passed("proof.set", message, "proof.set_partly_verified"))
    return checks, results


def _has_undefined_terms(proof: Any, context: Any, ctx: _Verifying) -> bool:
    """Whether a proof of a suite we do not verify (its configuration is not otherwise read) has undefined terms."""
    if not isinstance(proof, dict) or is_supported(proof):
        return False
    config = {**{k: v for k, v in proof.items() if k != "proofValue"}, "@context": context}
    try:
        return bool(find_safe_mode_violations(config, ctx.loader, root="$.proof"))
    except CredentialError:
        return True


def _selectively_disclosed(credential: dict[str, Any], proofs: list[ProofResult]) -> bool:
    """True when the proofs that count (as for the schema) are derived ecdsa-sd-2023 proofs. If they do not
    verify, the credential is not verified anyway; the schema check then only reports what is disclosed."""
    counted = [p for p in proofs if p.verified] or proofs
    bodies = _as_list(credential.get("proof"))
    return bool(counted) and all(
        p.suite == ECDSA_SD_2023
        and p.index < len(bodies)
        and isinstance(bodies[p.index], dict)
        and is_derived_proof_value(bodies[p.index].get("proofValue"))
        for p in counted
    )


def _with_counted_proofs(credential: dict[str, Any], proofs: list[ProofResult]) -> dict[str, Any]:
    """The credential with only the proofs that count (see _check_proofs), for the schema check."""
    if not any(p.verified for p in proofs) or all(p.verified for p in proofs):
        return credential
    counted = [proof for proof, result in zip(_as_list(credential["proof"]), proofs, strict=True) if result.verified]
    return {**credential, "proof": counted}


def _check_validity(signed: SignedCredential | None, now: datetime, clock_skew: timedelta) -> CheckResult:
    # VC Data Model 2.0, "Validity Period" (validFrom/validUntil); VC 1.1 issuanceDate/expirationDate likewise.
    if signed is None:
        return _undetermined("validity", "validity.not_checked", "the signed graph cannot be read")
    start_field, end_field = signed.valid_from, signed.valid_until
    try:
        start = parse_xsd_datetime(start_field[1]) if start_field else None
        end = parse_xsd_datetime(end_field[1]) if end_field else None
    except ValueError as exc:
        return _failed("validity", "data.invalid_date", str(exc))
    if start_field and start is not None and now + clock_skew < start:
        return _failed("validity", "validity.not_yet_valid", f"credential is not valid before {start_field[0]}")
    if end_field and end is not None and now - clock_skew > end:
        return _failed("validity", "validity.expired", f"credential expired ({end_field[0]} has passed)")
    return _passed("validity", "credential is within its validity period")


def _check_status_entry(
    entry: SignedStatusEntry, documents: DocumentSet, ctx: _Verifying, credential_id: str | None = None
) -> CheckResult:
    issuer = ctx.issuer
    if is_1edtech_revocation_list(entry.types):
        outcome, code, message = revocation_list_check(entry.id, credential_id, documents)
        return CheckResult(check="status", outcome=outcome, code=code, message=message)  # type: ignore[arg-type]
    status_list_2021 = STATUS_LIST_2021_ENTRY in entry.types
    if not entry.is_bitstring and not status_list_2021:
        names = ", ".join(sorted(entry.types)) or "none"
        return _undetermined("status", "status.unsupported_type", f"credential status type ({names}) is not supported")
    try:
        parsed = status_entry(entry.purpose, entry.list_url, entry.index, entry.size)
    except StatusListError as exc:
        return _failed("status", exc.code, str(exc))
    word = STATUS_WORDS.get(parsed.purpose)
    if word is None or parsed.status_size != 1:
        return _skipped("status", "status.purpose_not_evaluated", f"status purpose {parsed.purpose!r} is not evaluated")
    list_credential = documents.get(parsed.list_url)
    if not isinstance(list_credential, dict):
        failure = documents.failure(parsed.list_url)
        why = failure.message if failure is not None else "it was not supplied"
        message = f"cannot tell whether the credential is {word}: no fresh copy of {parsed.list_url} ({why})"
        return _undetermined("status", "status.unavailable", message)
    report = verify_credential(
        list_credential,
        resolver=ctx.resolver,
        now=ctx.now,
        loader=ctx.loader,
        profile="vc",
        trust_named_keys=ctx.trust_named_keys,
        clock_skew=ctx.clock_skew,
    )
    if not report.verified:
        reasons = ", ".join(sorted(report.codes()))
        message = f"status list {parsed.list_url} does not verify ({reasons}), so the status is unknown"
        return _undetermined("status", "status.list_unverified", message)
    if report.issuer_id != issuer:
        message = f"status list {parsed.list_url} is issued by {report.issuer_id}, not by the issuer {issuer}"
        return _undetermined("status", "status.issuer_mismatch", message)
    try:
        if status_list_2021:
            bit = status_list_2021_bit(list_credential, parsed.purpose, parsed.index)
        else:
            subject = list_subject(list_credential)
            purposes = _as_list(subject.get("statusPurpose"))
            if parsed.purpose not in purposes:
                message = f"status list is for {purposes!r}, not {parsed.purpose!r}"
                raise StatusListError(message, "status.purpose_mismatch")
            bit = read_status(decode_bitstring(subject.get("encodedList")), parsed.index)
    except StatusListError as exc:
        return _undetermined("status", exc.code, f"status list {parsed.list_url}: {exc}")
    if bit:
        return _failed("status", f"status.{word}", f"the issuer has {word} this credential")
    return _passed("status", f"not {word} (status list {parsed.list_url}, index {parsed.index})", "status.active")


def _status_word(checks: list[CheckResult]) -> CredentialStatusWord | None:
    codes = {c.code for c in checks}
    if "status.revoked" in codes:
        return "revoked"
    if "status.suspended" in codes:
        return "suspended"
    if any(c.outcome == "undetermined" for c in checks):
        return "undetermined"
    if any(c.outcome == "passed" for c in checks):
        return "active"
    return None


def read_signed_credential(
    credential: dict[str, Any], loader: DocumentLoader | None = None, expanded: list[Any] | None = None
) -> SignedCredential:
    """The claims the proof covers: ``credential`` without its proof, expanded, read as an RDF graph.

    ``expanded`` may supply the expansion of that unsecured document when the caller already has it.
    Raises :class:`CredentialError` (``code`` says why) when the document cannot be read that way.
    """
    if expanded is None:
        expanded = expand({k: v for k, v in credential.items() if k != "proof"}, loader)
    return read_credential(expanded)


@dataclass(frozen=True)
class _SignedGraph:
    """The credential without its proof read as the proof covers it, built once for the claims and the hash:
    what it says (or why it cannot be read), its RDF dataset (``None`` if none could be built) and whether the
    one pass wrote that dataset (then safe mode accepts the document)."""

    signed: SignedCredential | None
    error: CredentialError | None
    dataset: Dataset | None
    one_pass: bool = False


def _signed_graph(
    credential: dict[str, Any], loader: DocumentLoader | None, expanded: list[Any] | None
) -> _SignedGraph:
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    statements = readable_statements(unsecured, loader)
    if statements is not None:
        try:
            return _SignedGraph(read_credential_statements(statements), None, statements.quads, True)
        except CredentialError as exc:
            return _SignedGraph(None, exc, statements.quads, True)
    dataset = None
    try:
        if expanded is None:
            expanded = expand(unsecured, loader)
        dataset = rdf_dataset(expanded)
        return _SignedGraph(read_credential(expanded, dataset=dataset), None, dataset)
    except CredentialError as exc:
        return _SignedGraph(None, exc, dataset)


def _check_signed_claims(
    credential: dict[str, Any], signed: SignedCredential | None, error: CredentialError | None, profile: str
) -> CheckResult:
    if signed is None:
        message = f"the signed graph cannot be read: {error}"
        return _failed("data.signed_claims", error.code if error else "data.graph_invalid", message)
    problems = []
    if VERIFIABLE_CREDENTIAL not in signed.types:
        problems.append("the signed graph does not type it VerifiableCredential")
    if profile == "ob3" and not signed.types & {OPEN_BADGE_CREDENTIAL, ENDORSEMENT_CREDENTIAL}:
        problems.append("the signed graph does not type it OpenBadgeCredential")
    if signed.issuer is None:
        problems.append("the signed graph names no issuer by IRI")
    if not signed.subjects:
        problems.append("the signed graph has no credentialSubject")
    if problems:
        return _failed("data.signed_claims", "data.invalid_structure", _summary(problems))
    mismatches = compact_form_disagreements(credential, signed)
    if mismatches:
        # Our verdict comes from the graph either way; the JSON is refused because whoever reads it (a badge
        # page, a wallet, the JSON schema) would see something else than what was signed.
        return _failed("data.signed_claims", "data.compact_form_mismatch", _summary(mismatches))
    return _passed("data.signed_claims", "issuer, types, dates and status are read from the signed graph")


def verify_credential(
    credential: dict[str, Any],
    *,
    now: datetime,
    resolver: KeyResolver | None = None,
    loader: DocumentLoader | None = None,
    documents: DocumentSet | None = None,
    profile: VerificationProfile = "auto",
    trust_named_keys: bool = False,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    expanded: list[Any] | None = None,
    external_proof: tuple[list[CheckResult], list[ProofResult]] | None = None,
) -> VerificationReport:
    """Verify ``credential`` as of ``now`` (timezone-aware) and report every check.

    Issuer keys come from ``resolver`` (default: a :class:`DocumentResolver` over ``documents``). Credential
    status is checked against the status list credentials in ``documents``; without ``documents`` it is
    reported as ``skipped`` (not asked for). ``loader`` may add JSON-LD documents beyond the bundled contexts.
    ``profile="auto"`` applies the OB 3.0 rules to a credential that presents itself as an Open Badge
    (:func:`presents_as_open_badge`) and verifies anything else as a plain Verifiable Credential, its OB
    checks reported ``not_applicable`` (``ob.not_an_open_badge``); ``"ob3"`` always applies the OB rules,
    ``"vc"`` never (a status list credential).
    ``clock_skew`` is tolerated on validFrom/validUntil and on a proof's created/expires. ``expanded`` may
    supply the expansion of the credential without its proof (see :func:`read_signed_credential`).

    ``trust_named_keys`` reproduces the 1EdTech validator's key rule: a key that the verificationMethod names
    itself (``<issuer id>#z6Mk…``) counts as the issuer's even though no document of the issuer lists it. Off
    by default: anyone can name their own key after any issuer's URL, so only a controller document (or a
    did:key issuer) proves the key is the issuer's. Meant for comparing verdicts, not for trusting badges.
    """
    require_aware(now, "now")
    if not isinstance(credential, dict):
        check = _failed("structure.document", "data.invalid_structure", "credential must be a JSON object")
        return VerificationReport(verified=False, checks=[check])
    unreadable = json_problem(credential)
    if unreadable is not None:
        return VerificationReport(
            verified=False, checks=[_failed("structure.document", unreadable.code, str(unreadable))]
        )
    resolver = resolver or DocumentResolver(documents)
    graph = _signed_graph(credential, loader, expanded)
    signed, graph_error = graph.signed, graph.error
    issuer = signed.issuer if signed is not None else None
    ctx = _Verifying(issuer, resolver, loader, trust_named_keys, now, clock_skew, graph.dataset)
    if profile == "auto":
        profile = "ob3" if presents_as_open_badge(credential, signed) else "vc"
    # A credential secured from outside (VC-JWT: shared.credentials.vcjwt) comes with its proof checks.
    proof_checks, proofs = external_proof if external_proof is not None else _check_proofs(credential, ctx)
    checks = _check_structure(credential, profile)
    if profile == "ob3":
        disclosed = _selectively_disclosed(credential, proofs)
        checks.append(_check_schema(_with_counted_proofs(credential, proofs), disclosed))
    else:
        checks.append(_not_an_open_badge(credential))
    checks.append(_check_terms(credential, loader, graph.one_pass))
    checks.append(_check_signed_claims(credential, signed, graph_error, profile))
    checks.extend(proof_checks)
    checks.append(_check_validity(signed, now, clock_skew))

    status_checks: list[CheckResult] = []
    entries = signed.status if signed is not None else ()
    if entries and documents is None:
        status_checks.append(_skipped("status", "status.not_checked", "credential status was not checked"))
    elif entries and documents is not None:
        status_checks = [_check_status_entry(e, documents, ctx, signed.id if signed else None) for e in entries]
    checks.extend(status_checks)

    verified = all(c.outcome in ("passed", "skipped", "not_applicable") for c in checks)
    credential_id = credential.get("id") if isinstance(credential.get("id"), str) else None
    vm = next((p.verification_method for p in proofs if p.verified), None) or next(
        (p.verification_method for p in proofs if p.verification_method), None
    )
    return VerificationReport(
        verified=verified,
        checks=checks,
        credential_id=signed.id if signed is not None and signed.id else credential_id,
        issuer_id=issuer,
        verification_method=vm,
        status=_status_word(status_checks) if documents is not None else None,
        proofs=proofs,
        open_badge=profile == "ob3",
    )
