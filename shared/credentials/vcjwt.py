"""VC-JWT: a credential secured as a compact JWS (Open Badges 3.0, "JSON Web Token Proof Format"; VC Data
Model 1.1, "JSON Web Token").

The JWS is checked here — algorithm, issuer key, signature, the JWT claims against the credential, ``exp`` /
``nbf`` — and the credential it carries then goes through every other check of
:func:`~shared.credentials.verification.verify_credential` (structure, schema, terms, validity, status) in
place of the embedded-proof checks. Decisions that keep alg confusion out:

- only RS256, ES256 (P-256) and EdDSA (Ed25519); ``none`` and HS* are refused before any key is looked at;
- the algorithm must match the type of the key it is verified with (an RSA or EC public key is never an HMAC
  secret, an Ed25519 key never checks an ES256 signature);
- the key comes from ``kid`` (a verification method of the issuer, resolved and bound to it as for a Data
  Integrity proof: did:key, did:jwk, did:web, https documents), from a JWK Set on the issuer's own host (a
  ``jku`` header there, a ``kid`` URL whose document is a JWK Set, or ``/.well-known/jwks.json`` for a bare
  ``kid``), or from a ``jwk`` header, which binds the key to nobody: it counts as the issuer's only under
  ``trust_named_keys`` (the 1EdTech validator's rule), or when a ``kid`` of the issuer resolves to the same key.
  A JWK Set on another host than the issuer's is not fetched and binds nothing (``issuer.key_unbound``).

A payload with a ``vc`` claim carries the credential there; without one (VC-JOSE style) the payload minus the
registered JWT claims is the credential.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .dates import parse_xsd_datetime
from .documents import DocumentSet
from .errors import CredentialError, KeyFormatError
from .jwk import JwkPublicKey, jwks_signing_key, public_key_from_jwk
from .resolver import DocumentResolver, KeyResolver, did_web_document_url
from .untrusted_json import UntrustedJsonError, parse_json
from .verification import (
    DEFAULT_CLOCK_SKEW,
    CheckResult,
    Outcome,
    ProofResult,
    VerificationReport,
    check_key,
    verify_credential,
)

COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
ALLOWED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
REGISTERED_CLAIMS = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")
WELL_KNOWN_JWKS = "/.well-known/jwks.json"
MIN_RSA_BITS = 2048

VerifyingKey = JwkPublicKey


class VcJwtError(CredentialError):
    """A token that is not a readable VC-JWT (``code`` says why)."""

    code = "proof.jwt_malformed"


@dataclass(frozen=True)
class VcJwt:
    """A decoded (not yet verified) VC-JWT: the token, its JOSE header, its claims and the credential."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    credential: dict[str, Any]

    @property
    def key_id(self) -> str | None:
        """The ``kid`` as an absolute verification method id (a relative ``#key-1`` is the issuer's)."""
        kid = self.header.get("kid")
        if not isinstance(kid, str) or not kid:
            return None
        issuer = issuer_id(self.credential)
        return issuer + kid if kid.startswith("#") and issuer else kid


def is_compact_jws(text: str) -> bool:
    return COMPACT_JWS.match(text.strip()) is not None


def _segment(value: str, what: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return parse_json(raw)
    except (binascii.Error, ValueError, UntrustedJsonError) as error:
        raise VcJwtError(f"the JWT {what} is not base64url JSON: {error}") from error


def decode_vc_jwt(token: str) -> VcJwt:
    """Split and decode ``token`` without verifying anything; raises :class:`VcJwtError`."""
    token = token.strip()
    if not is_compact_jws(token):
        raise VcJwtError("not a compact JWS (header.payload.signature)")
    head, body, _ = token.split(".")
    header, claims = _segment(head, "header"), _segment(body, "payload")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise VcJwtError("the JWT header and payload must be JSON objects")
    if "vc" in claims:
        credential = claims["vc"]
        if not isinstance(credential, dict):
            raise VcJwtError("the JWT 'vc' claim must be a JSON object")
    else:
        credential = {k: v for k, v in claims.items() if k not in REGISTERED_CLAIMS}
    return VcJwt(token, header, claims, credential)


def issuer_id(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    value = issuer.get("id") if isinstance(issuer, dict) else issuer
    return value if isinstance(value, str) else None


def algorithm_fits(alg: str, key: Any) -> bool:
    """Whether ``alg`` is allowed with ``key`` (pinned to the key type: no alg confusion)."""
    if alg == "RS256":
        return isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_BITS
    if alg == "ES256":
        return isinstance(key, EllipticCurvePublicKey) and isinstance(key.curve, SECP256R1)
    return alg == "EdDSA" and isinstance(key, Ed25519PublicKey)


def header_key(header: dict[str, Any]) -> VerifyingKey:
    """The public key of a ``jwk`` header; raises :class:`VcJwtError` for private, symmetric or unknown keys."""
    try:
        return public_key_from_jwk(header.get("jwk"))
    except KeyFormatError as error:
        raise VcJwtError(f"the 'jwk' header: {error}", code="proof.jwt_key_invalid") from error


def signature_valid(token: str, alg: str, key: VerifyingKey) -> bool:
    """Check the JWS signature with PyJWT, allowing only ``alg`` (already matched to ``key``)."""
    try:
        jwt.PyJWS().decode_complete(token, key=key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        return False
    except jwt.InvalidTokenError as error:
        raise VcJwtError(f"the JWS cannot be verified: {error}") from error
    return True


def _instant(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _same_second(claim: datetime, field: Any) -> bool:
    try:
        other = parse_xsd_datetime(field)
    except (TypeError, ValueError):
        return False
    return int(claim.timestamp()) == int(other.timestamp())


def claim_mismatches(decoded: VcJwt) -> list[str]:
    """Where the JWT claims disagree with the credential (VC Data Model 1.1, "JWT and JWS Considerations")."""
    claims, credential = decoded.claims, decoded.credential
    problems = []
    issuer = issuer_id(credential)
    if claims.get("iss") != issuer:
        problems.append(f"iss {claims.get('iss')!r} is not the issuer {issuer!r}")
    if "jti" in claims and "id" in credential and claims["jti"] != credential["id"]:
        problems.append(f"jti {claims['jti']!r} is not the credential id {credential['id']!r}")
    subjects = credential.get("credentialSubject")
    subject_ids = [s.get("id") for s in (subjects if isinstance(subjects, list) else [subjects]) if isinstance(s, dict)]
    if "sub" in claims and claims["sub"] not in subject_ids:
        problems.append(f"sub {claims['sub']!r} is not the id of a credentialSubject")
    for claim, fields in (("nbf", ("validFrom", "issuanceDate")), ("exp", ("validUntil", "expirationDate"))):
        if claim not in claims:
            continue
        instant = _instant(claims[claim])
        if instant is None:
            problems.append(f"{claim} is not a NumericDate")
            continue
        for name in fields:
            if name in credential and not _same_second(instant, credential[name]):
                problems.append(f"{claim} ({instant.isoformat()}) is not {name} ({credential[name]!r})")
    return problems


def time_problem(claims: dict[str, Any], now: datetime, clock_skew: timedelta) -> tuple[str, str] | None:
    """``(code, message)`` when ``exp`` has passed or ``nbf`` is still ahead (allowing ``clock_skew``)."""
    exp, nbf = _instant(claims.get("exp")), _instant(claims.get("nbf"))
    if exp is not None and now - clock_skew > exp:
        return "proof.jwt_expired", f"the JWT expired at {exp.isoformat()} (exp)"
    if nbf is not None and now + clock_skew < nbf:
        return "proof.jwt_not_yet_valid", f"the JWT is not valid before {nbf.isoformat()} (nbf)"
    return None


def _check(check: str, outcome: Outcome, code: str, message: str) -> CheckResult:
    return CheckResult(check=check, outcome=outcome, code=code, message=message)


def _not_checked(first: list[CheckResult], why: str) -> list[CheckResult]:
    names = {c.check for c in first}
    rest = [_check(n, "undetermined", f"{n.split('.')[0]}.not_checked", why) for n in ("issuer.key", "proof.signature")]
    return first + [c for c in rest if c.check not in names]


def _spki(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def issuer_origin(issuer: str | None, insecure_hosts: tuple[str, ...] = ()) -> str | None:
    """``scheme://host[:port]`` of an http(s) issuer id, or of the host a did:web issuer names; else None."""
    if issuer is None:
        return None
    if issuer.startswith("did:web:"):
        try:
            return _origin(did_web_document_url(issuer, insecure_hosts))
        except ValueError:
            return None
    return _origin(issuer)


@dataclass(frozen=True)
class JwksSource:
    """Where a JWT's key is looked up in a JWK Set: ``url``, the ``kid`` to select, and whether that URL is on
    the issuer's own origin (the only JWK Sets that bind a key to the issuer; others are not even fetched)."""

    url: str
    kid: str | None
    bound: bool


def jwks_source(decoded: VcJwt, insecure_hosts: tuple[str, ...] = ()) -> JwksSource | None:
    """The JWK Set a token's key comes from: its ``jku``; else, for a ``kid`` that is neither a URL nor a DID,
    the issuer's ``/.well-known/jwks.json``; else None (the ``kid`` is a verification method, or ``jwk``)."""
    header = decoded.header
    kid = header.get("kid") if isinstance(header.get("kid"), str) and header.get("kid") else None
    origin = issuer_origin(issuer_id(decoded.credential), insecure_hosts)
    jku = header.get("jku")
    if isinstance(jku, str) and jku:
        return JwksSource(jku, kid, origin is not None and _origin(jku) == origin)
    if kid is not None and ":" not in kid and not kid.startswith("#") and origin is not None:
        return JwksSource(origin + WELL_KNOWN_JWKS, kid, True)
    return None


def jwks_urls(decoded: VcJwt, insecure_hosts: tuple[str, ...] = ()) -> list[str]:
    """The JWK Set URLs to fetch for ``decoded`` (only ones on the issuer's origin)."""
    source = jwks_source(decoded, insecure_hosts)
    return [source.url] if source is not None and source.bound else []


def _kid_jwks(decoded: VcJwt, documents: DocumentSet, insecure_hosts: tuple[str, ...]) -> JwksSource | None:
    """A ``kid`` URL whose document is a JWK Set (OB 3.0's own example: ``https://example.edu/keys#key-1``)."""
    kid = decoded.key_id
    if kid is None or _origin(kid) is None:
        return None
    base, _, fragment = kid.partition("#")
    document = documents.get(base)
    if not isinstance(document, dict) or "keys" not in document:
        return None
    issuer = issuer_origin(issuer_id(decoded.credential), insecure_hosts)
    return JwksSource(base, fragment or kid, _origin(kid) == issuer)


def _jwks_key(
    decoded: VcJwt, source: JwksSource, documents: DocumentSet, embedded: VerifyingKey | None
) -> tuple[CheckResult, VerifyingKey | None]:
    """The key ``source`` names, bound to the issuer by being published on the issuer's own origin."""
    issuer = issuer_id(decoded.credential)
    if not source.bound:
        message = f"the JWK Set {source.url} is not on the issuer's host ({issuer}), so it does not bind a key to it"
        return _check("issuer.key", "failed", "issuer.key_unbound", message), None
    jwks = documents.get(source.url)
    if jwks is None:
        failure = documents.failure(source.url)
        why = failure.message if failure is not None else "it was not supplied"
        conclusive = failure is not None and failure.conclusive
        outcome: Outcome = "failed" if conclusive else "undetermined"
        code = "issuer.key_unresolved" if conclusive else "issuer.key_unavailable"
        return _check("issuer.key", outcome, code, f"cannot get the JWK Set {source.url}: {why}"), None
    try:
        member, key = jwks_signing_key(jwks, source.kid)
    except KeyFormatError as error:
        return _check("issuer.key", "failed", "issuer.key_unresolved", f"{source.url}: {error}"), None
    if "alg" in member and member["alg"] != decoded.header.get("alg"):
        message = f"the key's alg {member['alg']!r} is not the token's {decoded.header.get('alg')!r}"
        return _check("issuer.key", "failed", "proof.jwt_alg_not_allowed", message), None
    if embedded is not None and _spki(embedded) != _spki(key):
        return _check("issuer.key", "failed", "proof.jwt_key_mismatch", "'jwk' is not the JWK Set's key"), None
    message = f"key {source.kid or '(the only one)'} of the issuer's JWK Set {source.url}"
    return _check("issuer.key", "passed", "ok", message), key


def _key(
    decoded: VcJwt,
    resolver: KeyResolver,
    trust_named_keys: bool,
    documents: DocumentSet | None = None,
    insecure_hosts: tuple[str, ...] = (),
) -> tuple[CheckResult, VerifyingKey | None]:
    """The key to verify with and the ``issuer.key`` check: a JWK Set of the issuer, ``kid`` resolved as the
    issuer's verification method, else ``jwk``."""
    issuer, kid = issuer_id(decoded.credential), decoded.key_id
    embedded = header_key(decoded.header) if "jwk" in decoded.header else None
    documents = documents or DocumentSet()
    source = jwks_source(decoded, insecure_hosts) or _kid_jwks(decoded, documents, insecure_hosts)
    # A foreign jku binds nothing, but a kid that is itself a verification method (did:key, …) still may.
    if source is not None and (source.bound or kid is None or ":" not in kid):
        return _jwks_key(decoded, source, documents, embedded)
    if kid is not None:
        check, key = check_key(kid, issuer, resolver, trust_named_keys)
        if embedded is not None and key is not None and _spki(embedded) != _spki(key):
            return _check("issuer.key", "failed", "proof.jwt_key_mismatch", "'jwk' is not the key 'kid' names"), None
        return check, key
    if embedded is None:
        return _check("issuer.key", "failed", "proof.jwt_no_key", "the JOSE header has neither 'kid' nor 'jwk'"), None
    if trust_named_keys:
        message = "key given as 'jwk' in the JOSE header accepted without a document of the issuer (trust_named_keys)"
        return _check("issuer.key", "passed", "issuer.key_named", message), embedded
    message = f"the key is only given as 'jwk' in the JOSE header; no document of the issuer binds it to {issuer}"
    return _check("issuer.key", "failed", "issuer.key_unbound", message), embedded


def jwt_proof_checks(
    decoded: VcJwt,
    *,
    resolver: KeyResolver,
    now: datetime,
    clock_skew: timedelta,
    trust_named_keys: bool,
    documents: DocumentSet | None = None,
    insecure_hosts: tuple[str, ...] = (),
) -> list[CheckResult]:
    """The checks of the JWS that secures the credential (in place of an embedded proof's)."""
    alg = decoded.header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        why = f"alg {alg!r} is not allowed (RS256, ES256, EdDSA only)"
        return _not_checked([_check("proof.suite", "failed", "proof.jwt_alg_not_allowed", why)], "alg refused")
    if "crit" in decoded.header:  # RFC 7515 §4.1.11: extensions we do not implement must be refused
        why = f"the 'crit' header names extensions this verifier does not implement: {decoded.header['crit']!r}"
        return _not_checked([_check("proof.suite", "failed", "proof.jwt_malformed", why)], "crit refused")
    checks = [_check("proof.suite", "passed", "ok", f"VC-JWT {alg}")]
    try:
        key_check, key = _key(decoded, resolver, trust_named_keys, documents, insecure_hosts)
    except VcJwtError as error:
        return _not_checked([*checks, _check("issuer.key", "failed", error.code, str(error))], "no usable key")
    checks.append(key_check)
    if key is None:
        return _not_checked(checks, "no usable issuer key")
    if not algorithm_fits(alg, key):
        message = f"alg {alg} does not fit the issuer's {type(key).__name__.lstrip('_')}"
        return [*checks, _check("proof.signature", "failed", "proof.jwt_alg_not_allowed", message)]
    try:
        valid = signature_valid(decoded.token, alg, key)
    except VcJwtError as error:
        return [*checks, _check("proof.signature", "failed", error.code, str(error))]
    if not valid:
        return [*checks, _check("proof.signature", "failed", "proof.jwt_signature_invalid", "JWS signature invalid")]
    checks.append(_check("proof.signature", "passed", "proof.valid", f"VC-JWT {alg} signature is valid"))
    mismatches = claim_mismatches(decoded)
    if mismatches:
        checks.append(_check("proof.jwt_claims", "failed", "proof.jwt_claims_mismatch", "; ".join(mismatches)))
    else:
        checks.append(_check("proof.jwt_claims", "passed", "ok", "the JWT claims agree with the credential"))
    late = time_problem(decoded.claims, now, clock_skew)
    if late is not None:
        checks.append(_check("proof.time", "failed", *late))
    return checks


def verify_vc_jwt(
    token: str | VcJwt,
    *,
    now: datetime,
    resolver: KeyResolver | None = None,
    documents: DocumentSet | None = None,
    trust_named_keys: bool = False,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    insecure_hosts: tuple[str, ...] = (),
) -> VerificationReport:
    """Verify a VC-JWT: its JWS (see the module notes), then the credential it carries with every other check."""
    try:
        decoded = token if isinstance(token, VcJwt) else decode_vc_jwt(token)
    except VcJwtError as error:
        return VerificationReport(verified=False, checks=[_check("proof.suite", "failed", error.code, str(error))])
    resolver = resolver or DocumentResolver(documents)
    checks = jwt_proof_checks(
        decoded,
        resolver=resolver,
        now=now,
        clock_skew=clock_skew,
        trust_named_keys=trust_named_keys,
        documents=documents,
        insecure_hosts=insecure_hosts,
    )
    failing = [c for c in checks if c.outcome != "passed"]
    proof = ProofResult(
        index=0,
        verified=not failing,
        code=failing[0].code if failing else "proof.valid",
        verification_method=decoded.key_id,
        suite=f"VC-JWT {decoded.header.get('alg')}",
    )
    return verify_credential(
        decoded.credential,
        now=now,
        resolver=resolver,
        documents=documents,
        trust_named_keys=trust_named_keys,
        clock_skew=clock_skew,
        external_proof=(checks, [proof]),
    )
