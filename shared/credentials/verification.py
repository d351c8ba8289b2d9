"""Full verification of an Open Badges 3.0 credential into a JSON-serialisable report.

Checks, in order: structure, JSON-LD safe mode (all terms defined), proof presence and suite, issuer key
(resolution, controller == issuer, did:key form, assertionMethod authorisation), signature, validity window.
No network I/O: keys come from the injected :class:`~shared.credentials.resolver.KeyResolver`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from .dates import parse_xsd_datetime, require_aware
from .errors import CredentialError, KeyResolutionError
from .jsonld import DocumentLoader, find_safe_mode_violations
from .keys import DID_KEY_PREFIX
from .proof import (
    ASSERTION_METHOD,
    DATA_INTEGRITY_PROOF,
    ED25519_SIGNATURE_2020,
    EDDSA_RDFC_2022,
    verify_proof,
)
from .resolver import KeyResolver, VerificationMethod
from .structure import issuer_id, structure_problems

Outcome = Literal["passed", "failed", "undetermined", "skipped"]
_MAX_PROBLEMS_SHOWN = 20


class CheckResult(BaseModel):
    """One verification check. ``code`` is stable and machine-readable; ``message`` is for people."""

    check: str
    outcome: Outcome
    code: str
    message: str


class VerificationReport(BaseModel):
    """All checks run on a credential; ``verified`` is true only if no check failed or was undetermined."""

    verified: bool
    checks: list[CheckResult] = Field(default_factory=list)
    credential_id: str | None = None
    issuer_id: str | None = None
    verification_method: str | None = None

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


def _check_structure(credential: dict[str, Any]) -> list[CheckResult]:
    problems = structure_problems(credential)
    if not problems:
        return [_passed("structure", "credential structure is valid")]
    return [_failed(p.check, p.code, p.message) for p in problems]


def _check_terms(credential: dict[str, Any], loader: DocumentLoader | None) -> CheckResult:
    # Verifiers canonicalise both the document and the proof configuration in safe mode.
    document = {k: v for k, v in credential.items() if k != "proof"}
    proofs = credential.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs]
    try:
        problems = find_safe_mode_violations(document, loader)
        for i, proof in enumerate(proofs):
            if isinstance(proof, dict):
                config = {k: v for k, v in proof.items() if k != "proofValue"}
                config["@context"] = credential.get("@context")
                root = "$.proof" if len(proofs) == 1 else f"$.proof[{i}]"
                problems += find_safe_mode_violations(config, loader, root=root)
    except CredentialError as exc:
        return _failed("data.terms", exc.code, str(exc))
    if problems:
        shown = problems[:_MAX_PROBLEMS_SHOWN]
        more = f"; (+{len(problems) - len(shown)} more)" if len(problems) > len(shown) else ""
        return _failed("data.terms", "data.undefined_term", "; ".join(shown) + more)
    return _passed("data.terms", "all terms are defined by the credential's contexts")


def _check_proof_form(proof: Any) -> CheckResult:
    if isinstance(proof, list):
        if len(proof) > 1:
            return _undetermined("proof.suite", "proof.multiple", "multiple proofs are not supported")
        proof = proof[0] if proof else None
    if not isinstance(proof, dict):
        return _failed("proof.suite", "proof.missing", "credential has no proof")
    suite = proof.get("cryptosuite") if proof.get("type") == DATA_INTEGRITY_PROOF else proof.get("type")
    if suite != EDDSA_RDFC_2022:
        hint = " (its context is not bundled)" if suite == ED25519_SIGNATURE_2020 else ""
        return _failed("proof.suite", "proof.unsupported_cryptosuite", f"unsupported proof suite {suite!r}{hint}")
    if proof.get("proofPurpose") != ASSERTION_METHOD:
        return _failed("proof.suite", "proof.invalid_purpose", "proofPurpose must be assertionMethod")
    if not isinstance(proof.get("verificationMethod"), str):
        return _failed("proof.suite", "proof.malformed", "proof has no verificationMethod")
    return _passed("proof.suite", f"{DATA_INTEGRITY_PROOF} / {EDDSA_RDFC_2022}")


def _check_key(vm_id: str, issuer: str | None, resolver: KeyResolver) -> tuple[CheckResult, VerificationMethod | None]:
    if vm_id.startswith(DID_KEY_PREFIX):
        did, _, fragment = vm_id.partition("#")
        if fragment != did[len(DID_KEY_PREFIX) :]:
            message = f"did:key verification method must be {did}#{did[len(DID_KEY_PREFIX) :]}"
            return _failed("issuer.key", "issuer.verification_method_invalid", message), None
    try:
        method = resolver.resolve_verification_method(vm_id)
    except KeyResolutionError as exc:
        return _failed("issuer.key", exc.code, str(exc)), None
    if method.controller != issuer:
        message = f"key {vm_id} is controlled by {method.controller}, not by the issuer {issuer}"
        return _failed("issuer.key", "issuer.key_mismatch", message), method
    if ASSERTION_METHOD not in method.purposes:
        message = f"issuer does not list {vm_id} under assertionMethod"
        return _failed("issuer.key", "issuer.key_not_authorized", message), method
    return _passed("issuer.key", f"key {vm_id} belongs to the issuer"), method


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


def verify_credential(
    credential: dict[str, Any],
    *,
    resolver: KeyResolver,
    now: datetime,
    loader: DocumentLoader | None = None,
) -> VerificationReport:
    """Verify ``credential`` as of ``now`` (timezone-aware) and report every check.

    ``resolver`` supplies issuer keys (no I/O here); ``loader`` may add JSON-LD documents beyond the bundled
    contexts. Credential status (revocation) is not checked yet and is reported as ``skipped``.
    """
    require_aware(now, "now")
    if not isinstance(credential, dict):
        check = _failed("structure.document", "data.invalid_structure", "credential must be a JSON object")
        return VerificationReport(verified=False, checks=[check])
    issuer = issuer_id(credential)
    checks = _check_structure(credential)
    checks.append(_check_terms(credential, loader))

    proof = credential.get("proof")
    proof_check = _check_proof_form(proof)
    checks.append(proof_check)
    vm_id = None
    if proof_check.outcome == "passed":
        single = proof[0] if isinstance(proof, list) else proof
        vm_id = single["verificationMethod"]
        key_check, method = _check_key(vm_id, issuer, resolver)
        checks.append(key_check)
        if method is not None:
            result = verify_proof(credential, method.public_key, loader=loader)
            outcome = "passed" if result.valid else "failed"
            checks.append(
                CheckResult(check="proof.signature", outcome=outcome, code=result.code, message=result.message)
            )
        else:
            checks.append(_undetermined("proof.signature", "proof.not_checked", "no usable issuer key"))
    else:
        checks.append(_undetermined("issuer.key", "issuer.not_checked", "no supported proof"))
        checks.append(_undetermined("proof.signature", "proof.not_checked", "no supported proof"))

    checks.append(_check_validity(credential, now))
    if "credentialStatus" in credential:
        checks.append(
            CheckResult(
                check="status",
                outcome="skipped",
                code="status.not_checked",
                message="credential status (revocation) is not checked yet",
            )
        )
    verified = all(c.outcome in ("passed", "skipped") for c in checks)
    credential_id = credential.get("id") if isinstance(credential.get("id"), str) else None
    return VerificationReport(
        verified=verified,
        checks=checks,
        credential_id=credential_id,
        issuer_id=issuer,
        verification_method=vm_id,
    )
