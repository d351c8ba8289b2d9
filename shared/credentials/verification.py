"""Full verification of an Open Badges 3.0 credential into a JSON-serialisable report (pure: no I/O).

Checks, in order: structure, OB 3.0 JSON schema, JSON-LD safe mode (all terms defined), then per proof its
suite, the issuer key (resolution, controller == issuer, did:key form, assertionMethod authorisation) and the
signature, then the validity window and the credential status (Bitstring Status List).

Everything outside the credential — issuer DID/key documents, status list credentials — comes in a
:class:`~shared.credentials.documents.DocumentSet` gathered beforehand (``verify_with_fetch`` in
:mod:`shared.credentials.online` fetches it) or through an injected ``KeyResolver``.

Outcomes: ``passed``; ``failed`` (the credential is wrong: bad signature, expired, revoked, key not the
issuer's); ``undetermined`` (could not find out: unsupported suite, key or status list unreachable);
``skipped`` (not asked for). ``verified`` is true only when no check failed or was undetermined.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, Field

from .dates import parse_xsd_datetime, require_aware
from .documents import DocumentSet
from .errors import CredentialError, KeyResolutionError
from .jsonld import DocumentLoader, find_safe_mode_violations
from .keys import DID_KEY_PREFIX
from .proof import ASSERTION_METHOD
from .resolver import INCONCLUSIVE_KEY_CODES, DocumentResolver, KeyResolver, named_key
from .schema import schema_problems
from .status import STATUS_WORDS, StatusListError, decode_bitstring, list_subject, parse_entry, read_status
from .structure import issuer_id, structure_problems
from .suites import is_supported, suite_name, verify_embedded_proof

Outcome = Literal["passed", "failed", "undetermined", "skipped"]
CredentialStatusWord = Literal["active", "revoked", "suspended", "undetermined"]
_MAX_PROBLEMS_SHOWN = 20


class CheckResult(BaseModel):
    """One verification check. ``code`` is stable and machine-readable; ``message`` is for people."""

    check: str
    outcome: Outcome
    code: str
    message: str


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


def _check_structure(credential: dict[str, Any], profile: str) -> list[CheckResult]:
    problems = structure_problems(credential, profile=profile)
    if not problems:
        return [_passed("structure", "credential structure is valid")]
    return [_failed(p.check, p.code, p.message) for p in problems]


def _check_schema(credential: dict[str, Any]) -> CheckResult:
    problems = schema_problems(credential)
    if problems:
        return _failed("schema", "schema.invalid", _summary(problems))
    return _passed("schema", "credential matches the Open Badges 3.0 JSON schema")


def _check_terms(credential: dict[str, Any], loader: DocumentLoader | None) -> CheckResult:
    # Verifiers canonicalise both the document and the proof configuration in safe mode.
    document = {k: v for k, v in credential.items() if k != "proof"}
    proofs = _as_list(credential.get("proof"))
    try:
        problems = find_safe_mode_violations(document, loader)
        for i, proof in enumerate(proofs):
            if isinstance(proof, dict):
                config = {k: v for k, v in proof.items() if k != "proofValue"}
                config["@context"] = credential.get("@context")
                root = "$.proof" if not isinstance(credential.get("proof"), list) else f"$.proof[{i}]"
                problems += find_safe_mode_violations(config, loader, root=root)
    except CredentialError as exc:
        return _failed("data.terms", exc.code, str(exc))
    if problems:
        return _failed("data.terms", "data.undefined_term", _summary(problems))
    return _passed("data.terms", "all terms are defined by the credential's contexts")


def _check_proof_form(proof: Any) -> CheckResult:
    if not isinstance(proof, dict):
        return _failed("proof.suite", "proof.malformed", "proof is not a JSON object")
    suite = suite_name(proof)
    if not is_supported(proof):
        return _undetermined("proof.suite", "proof.unsupported_cryptosuite", f"unsupported proof suite {suite!r}")
    if proof.get("proofPurpose") != ASSERTION_METHOD:
        return _failed("proof.suite", "proof.invalid_purpose", "proofPurpose must be assertionMethod")
    if not isinstance(proof.get("verificationMethod"), str):
        return _failed("proof.suite", "proof.malformed", "proof has no verificationMethod")
    return _passed("proof.suite", f"{proof.get('type')} / {suite}" if proof.get("cryptosuite") else str(suite))


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


def _check_key(
    vm_id: str, issuer: str | None, resolver: KeyResolver, trust_named_keys: bool
) -> tuple[CheckResult, Ed25519PublicKey | None]:
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


def _check_proofs(
    credential: dict[str, Any],
    issuer: str | None,
    resolver: KeyResolver,
    loader: DocumentLoader | None,
    trust_named_keys: bool,
) -> tuple[list[CheckResult], str | None]:
    """Check every embedded proof (all must verify); return the checks and the first verification method."""
    proofs = _as_list(credential.get("proof"))
    if not proofs:
        return [
            _failed("proof.suite", "proof.missing", "credential has no proof"),
            _undetermined("issuer.key", "issuer.not_checked", "no proof"),
            _undetermined("proof.signature", "proof.not_checked", "no proof"),
        ], None
    checks: list[CheckResult] = []
    first_vm: str | None = None
    for i, proof in enumerate(proofs):
        label = f"proof[{i}]: " if len(proofs) > 1 else ""
        form = _check_proof_form(proof)
        results = [form]
        if form.outcome == "passed":
            vm_id = proof["verificationMethod"]
            first_vm = first_vm or vm_id
            key_check, key = _check_key(vm_id, issuer, resolver, trust_named_keys)
            results.append(key_check)
            if key is not None:
                result = verify_embedded_proof(credential, proof, key, loader=loader)
                outcome: Outcome = "passed" if result.valid else "failed"
                results.append(
                    CheckResult(check="proof.signature", outcome=outcome, code=result.code, message=result.message)
                )
            else:
                results.append(_undetermined("proof.signature", "proof.not_checked", "no usable issuer key"))
        else:
            results.append(_undetermined("issuer.key", "issuer.not_checked", "no supported proof"))
            results.append(_undetermined("proof.signature", "proof.not_checked", "no supported proof"))
        checks.extend(r.model_copy(update={"message": label + r.message}) for r in results)
    return checks, first_vm


def _check_validity(credential: dict[str, Any], now: datetime) -> CheckResult:
    # VC 2.0 names first; VC 1.1 credentials use issuanceDate/expirationDate.
    start_name = "validFrom" if "validFrom" in credential else "issuanceDate"
    end_name = "validUntil" if "validUntil" in credential else "expirationDate"
    try:
        start = parse_xsd_datetime(credential[start_name]) if start_name in credential else None
        end = parse_xsd_datetime(credential[end_name]) if end_name in credential else None
    except ValueError as exc:
        return _failed("validity", "data.invalid_date", str(exc))
    if start is not None and now < start:
        return _failed("validity", "validity.not_yet_valid", f"credential is not valid before {start_name}")
    if end is not None and now > end:
        return _failed("validity", "validity.expired", f"credential expired ({end_name} has passed)")
    return _passed("validity", "credential is within its validity period")


def _check_status_entry(
    entry: Any,
    issuer: str | None,
    documents: DocumentSet,
    resolver: KeyResolver,
    now: datetime,
    loader: DocumentLoader | None,
    trust_named_keys: bool,
) -> CheckResult:
    entry_type = entry.get("type") if isinstance(entry, dict) else None
    if entry_type != "BitstringStatusListEntry":
        return _undetermined(
            "status", "status.unsupported_type", f"credential status type {entry_type!r} is not supported"
        )
    try:
        parsed = parse_entry(entry)
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
        list_credential, resolver=resolver, now=now, loader=loader, profile="vc", trust_named_keys=trust_named_keys
    )
    if not report.verified:
        reasons = ", ".join(sorted(report.codes()))
        message = f"status list {parsed.list_url} does not verify ({reasons}), so the status is unknown"
        return _undetermined("status", "status.list_unverified", message)
    if report.issuer_id != issuer:
        message = f"status list {parsed.list_url} is issued by {report.issuer_id}, not by the issuer {issuer}"
        return _undetermined("status", "status.issuer_mismatch", message)
    try:
        subject = list_subject(list_credential)
        purposes = _as_list(subject.get("statusPurpose"))
        if parsed.purpose not in purposes:
            raise StatusListError(f"status list is for {purposes!r}, not {parsed.purpose!r}", "status.purpose_mismatch")
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


def verify_credential(
    credential: dict[str, Any],
    *,
    now: datetime,
    resolver: KeyResolver | None = None,
    loader: DocumentLoader | None = None,
    documents: DocumentSet | None = None,
    profile: Literal["ob3", "vc"] = "ob3",
    trust_named_keys: bool = False,
) -> VerificationReport:
    """Verify ``credential`` as of ``now`` (timezone-aware) and report every check.

    Issuer keys come from ``resolver`` (default: a :class:`DocumentResolver` over ``documents``). Credential
    status is checked against the status list credentials in ``documents``; without ``documents`` it is
    reported as ``skipped`` (not asked for). ``loader`` may add JSON-LD documents beyond the bundled contexts.
    ``profile="vc"`` verifies a plain Verifiable Credential (a status list) without the OB 3.0 rules.

    ``trust_named_keys`` reproduces the 1EdTech validator's key rule: a key that the verificationMethod names
    itself (``<issuer id>#z6Mk…``) counts as the issuer's even though no document of the issuer lists it. Off
    by default: anyone can name their own key after any issuer's URL, so only a controller document (or a
    did:key issuer) proves the key is the issuer's. Meant for comparing verdicts, not for trusting badges.
    """
    require_aware(now, "now")
    if not isinstance(credential, dict):
        check = _failed("structure.document", "data.invalid_structure", "credential must be a JSON object")
        return VerificationReport(verified=False, checks=[check])
    resolver = resolver or DocumentResolver(documents)
    issuer = issuer_id(credential)
    checks = _check_structure(credential, profile)
    if profile == "ob3":
        checks.append(_check_schema(credential))
    checks.append(_check_terms(credential, loader))
    proof_checks, vm_id = _check_proofs(credential, issuer, resolver, loader, trust_named_keys)
    checks.extend(proof_checks)
    checks.append(_check_validity(credential, now))

    status_checks: list[CheckResult] = []
    entries = _as_list(credential.get("credentialStatus"))
    if entries and documents is None:
        status_checks.append(_skipped("status", "status.not_checked", "credential status was not checked"))
    elif entries and documents is not None:
        status_checks = [
            _check_status_entry(e, issuer, documents, resolver, now, loader, trust_named_keys) for e in entries
        ]
    checks.extend(status_checks)

    verified = all(c.outcome in ("passed", "skipped") for c in checks)
    credential_id = credential.get("id") if isinstance(credential.get("id"), str) else None
    return VerificationReport(
        verified=verified,
        checks=checks,
        credential_id=credential_id,
        issuer_id=issuer,
        verification_method=vm_id,
        status=_status_word(status_checks) if documents is not None else None,
    )
