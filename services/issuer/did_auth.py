"""DID authentication: check the presentation a wallet answers a VerifiablePresentationRequest with. Pure.

The holder proves control of a did:key by signing a VerifiablePresentation whose proof (purpose
`authentication`) carries our challenge and domain, with the Ed25519 suites of `shared.credentials.suites`
(`eddsa-rdfc-2022`, or `Ed25519Signature2020` as the DCC Learner Credential Wallet signs).
"""

from typing import Any

from shared.credentials.errors import CredentialError
from shared.credentials.jsonld import find_safe_mode_violations
from shared.credentials.keys import DID_KEY_PREFIX, parse_did_key
from shared.credentials.suites import ECDSA_SD_2023, SUPPORTED_SUITES, suite_name, verify_embedded_proof

AUTHENTICATION = "authentication"
# A selective-disclosure proof is made for a holder to derive from, not to authenticate with: its base proof
# carries the HMAC key and a derived one covers only what the holder chose to disclose.
AUTHENTICATION_SUITES = tuple(suite for suite in SUPPORTED_SUITES if suite != ECDSA_SD_2023)


class PresentationRefused(ValueError):
    """The presentation does not authenticate a holder for this exchange; `code` names the failed check."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def authenticated_holder(presentation: Any, *, challenge: str, domain: str) -> str:
    """The did:key DID that signed `presentation` for this `challenge` and `domain`, or PresentationRefused."""
    if not isinstance(presentation, dict):
        raise PresentationRefused("presentation.malformed", "verifiablePresentation must be a JSON object")
    types = presentation.get("type")
    if "VerifiablePresentation" not in (types if isinstance(types, list) else [types]):
        raise PresentationRefused("presentation.malformed", "type must include VerifiablePresentation")
    holder = presentation.get("holder")
    if isinstance(holder, dict):
        holder = holder.get("id")
    if not isinstance(holder, str) or not holder.startswith(DID_KEY_PREFIX):
        raise PresentationRefused("presentation.holder", "holder must be a did:key DID")
    try:
        multibase, public_key = parse_did_key(holder)
    except CredentialError as error:
        raise PresentationRefused("presentation.holder", str(error)) from error
    proof = presentation.get("proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict):
        raise PresentationRefused("proof.missing", "the presentation needs one embedded proof")
    if suite_name(proof) not in AUTHENTICATION_SUITES:
        raise PresentationRefused(
            "proof.unsupported_cryptosuite", f"supported suites: {', '.join(AUTHENTICATION_SUITES)}"
        )
    if proof.get("proofPurpose") != AUTHENTICATION:
        raise PresentationRefused("proof.purpose", "proofPurpose must be authentication")
    if proof.get("challenge") != challenge:
        raise PresentationRefused("proof.challenge", "the proof's challenge is not this exchange's")
    if proof.get("domain") != domain:
        raise PresentationRefused("proof.domain", f"the proof's domain must be {domain!r}")
    if proof.get("verificationMethod") != f"{holder}#{multibase}":
        raise PresentationRefused("proof.verification_method", "the proof must be made with the holder's did:key")
    # Signed is what JSON-LD keeps: holder, challenge and domain count only if no context drops them.
    config = {**{k: v for k, v in proof.items() if k != "proofValue"}, "@context": presentation.get("@context")}
    try:
        problems = find_safe_mode_violations({k: v for k, v in presentation.items() if k != "proof"})
        problems += find_safe_mode_violations(config, root="$.proof")
    except CredentialError as error:
        raise PresentationRefused("presentation.jsonld", str(error)) from error
    if problems:
        raise PresentationRefused("presentation.undefined_terms", "; ".join(problems[:5]))
    result = verify_embedded_proof(presentation, proof, public_key)
    if not result.valid:
        raise PresentationRefused(result.code, result.message)
    return holder
