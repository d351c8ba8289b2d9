"""OpenID for Verifiable Credential Issuance 1.0 (final), pre-authorized code flow: the protocol's pure parts.

Metadata (credential issuer, RFC 8414 authorization server), credential offers and their links and QR codes,
the parsers of token and credential requests, and the check of a `jwt` key proof (`openid4vci-proof+jwt`).
Every refusal is an `OAuthError` carrying the error code the specifications name; the state (codes, tokens,
nonces) lives in PostgreSQL: `services.issuer.credential_offers`.
"""

import base64
import hashlib
import hmac
import io
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import jwt
import segno
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.credentials.errors import CredentialError
from shared.credentials.jwk import public_key_from_jwk
from shared.credentials.keys import DID_KEY_PREFIX
from shared.credentials.multikey import multikey_public_key
from shared.credentials.structure import CREDENTIAL_CONTEXT

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CONFIGURATION_ID = "OpenBadgeCredential"
CREDENTIAL_FORMAT = "ldp_vc"
PROOF_TYP = "openid4vci-proof+jwt"
PROOF_ALGORITHMS = ("EdDSA", "ES256")
CRYPTOSUITES = ("eddsa-rdfc-2022",)  # what `shared.credentials.proof.sign_credential` signs with
OFFER_SCHEME = "openid-credential-offer://"
# A key proof is made for the request it travels with: older ones (or from the future) are refused.
PROOF_MAX_AGE = timedelta(minutes=5)
CLOCK_SKEW = timedelta(seconds=60)
TX_CODE_LENGTHS = range(4, 9)
_MAX_FORM_FIELDS = 16
# RFC 6749 §5.2: error_description is printable ASCII without '"' and '\' (a proof's text may be echoed in it).
_DESCRIPTION_UNSAFE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(ValueError):
    """A refusal as OAuth 2.0 / OID4VCI spell it: `error` code, description, HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.status = error, status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": _DESCRIPTION_UNSAFE.sub("?", str(self))}


def endpoint(issuer_url: str, name: str) -> str:
    """The URL of one of our OID4VCI endpoints (`token`, `nonce`, `credential`, `offers/<code>`)."""
    return f"{issuer_url.rstrip('/')}/oid4vci/{name}"


def issuer_metadata(issuer_url: str) -> dict[str, Any]:
    """`/.well-known/openid-credential-issuer`: we are our own authorization server (no `authorization_servers`)."""
    return {
        "credential_issuer": issuer_url,
        "credential_endpoint": endpoint(issuer_url, "credential"),
        "nonce_endpoint": endpoint(issuer_url, "nonce"),
        "display": [{"name": "credstream", "locale": "en"}],
        "credential_configurations_supported": {
            CONFIGURATION_ID: {
                "format": CREDENTIAL_FORMAT,
                "credential_definition": {
                    "@context": list(CREDENTIAL_CONTEXT),
                    "type": ["VerifiableCredential", "OpenBadgeCredential"],
                },
                "cryptographic_binding_methods_supported": ["did:key", "jwk"],
                "credential_signing_alg_values_supported": list(CRYPTOSUITES),
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS)}},
                "credential_metadata": {
                    "display": [{"name": "Open Badge", "locale": "en", "description": "An Open Badges 3.0 achievement"}]
                },
            }
        },
    }


def authorization_server_metadata(issuer_url: str) -> dict[str, Any]:
    """`/.well-known/oauth-authorization-server` (RFC 8414): only the pre-authorized code grant, no client needed."""
    return {
        "issuer": issuer_url,
        "token_endpoint": endpoint(issuer_url, "token"),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
    }


def credential_offer(issuer_url: str, code: str, tx_code_length: int | None) -> dict[str, Any]:
    """The Credential Offer object for one award's pre-authorized code."""
    grant: dict[str, Any] = {"pre-authorized_code": code}
    if tx_code_length is not None:
        grant["tx_code"] = {
            "input_mode": "numeric",
            "length": tx_code_length,
            "description": "The PIN you were given with this offer",
        }
    return {
        "credential_issuer": issuer_url,
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }


def offer_uri(issuer_url: str, code: str) -> str:
    """Where the offer is served by reference (`credential_offer_uri`): holding it is holding the code."""
    return endpoint(issuer_url, f"offers/{quote(code, safe='')}")


def offer_link_by_value(offer: dict[str, Any]) -> str:
    return OFFER_SCHEME + "?" + urlencode({"credential_offer": json.dumps(offer, separators=(",", ":"))})


def offer_link_by_reference(uri: str) -> str:
    return OFFER_SCHEME + "?" + urlencode({"credential_offer_uri": uri})


def qr_code(text: str, kind: str) -> bytes:
    """A QR code of `text` as `svg` or `png` (segno)."""
    buffer = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buffer, kind=kind, scale=4, border=4)
    return buffer.getvalue()


def digest(secret: str) -> str:
    """What the tables store for a code, token or nonce: its SHA-256, so a database dump hands out nothing."""
    return hashlib.sha256(_utf8(secret)).hexdigest()


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # any text a parser let through, even a lone surrogate


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_tx_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


def tx_code_digest(code: str, tx_code: str) -> str:
    """A PIN at rest, keyed by its pre-authorized code (which is not stored): a dump cannot brute-force it."""
    return hmac.new(_utf8(code), _utf8(tx_code), "sha256").hexdigest()


@dataclass(frozen=True)
class TokenRequest:
    pre_authorized_code: str
    tx_code: str | None


def parse_token_request(body: bytes, content_type: str | None) -> TokenRequest:
    """A token request (`application/x-www-form-urlencoded`, RFC 6749 §4.1.3 with OID4VCI's pre-authorized grant)."""
    if (content_type or "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The token request must be application/x-www-form-urlencoded.")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body), max_num_fields=_MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise OAuthError("invalid_request", "The token request is not a valid form body.") from error
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise OAuthError("invalid_request", f"Parameters must not repeat: {', '.join(repeated)}.")
    form = dict(pairs)
    grant = form.get("grant_type")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is required.")
    if grant != PRE_AUTHORIZED_GRANT:
        raise OAuthError("unsupported_grant_type", f"Only {PRE_AUTHORIZED_GRANT} is supported.")
    code = form.get("pre-authorized_code")
    if not code:
        raise OAuthError("invalid_request", "pre-authorized_code is required.")
    return TokenRequest(pre_authorized_code=code, tx_code=form.get("tx_code"))


@dataclass(frozen=True)
class CredentialRequest:
    proof_jwt: str


def parse_credential_request(body: Any) -> CredentialRequest:
    """A credential request for our one configuration with one `jwt` key proof.

    OID4VCI 1.0 sends `proofs: {"jwt": [<jwt>]}`; a single `proof: {"proof_type": "jwt", "jwt": …}` (drafts
    before 1.0) is accepted too, as wallets in the field still send it.
    """
    if not isinstance(body, dict):
        raise OAuthError("invalid_credential_request", "The credential request must be a JSON object.")
    if "credential_identifier" in body:
        raise OAuthError("unknown_credential_identifier", "No credential identifiers are issued here.")
    configuration = body.get("credential_configuration_id")
    if configuration is None:
        raise OAuthError("invalid_credential_request", "credential_configuration_id is required.")
    if configuration != CONFIGURATION_ID:
        raise OAuthError("unknown_credential_configuration", f"Only {CONFIGURATION_ID!r} is offered here.")
    if "proofs" in body and "proof" in body:
        raise OAuthError("invalid_credential_request", "Send either proofs or proof, not both.")
    if "proofs" in body:
        proofs = body["proofs"]
        if not isinstance(proofs, dict) or set(proofs) != {"jwt"}:
            raise OAuthError("invalid_proof", "proofs must hold exactly one proof type: jwt.")
        listed = proofs["jwt"]
        if not isinstance(listed, list) or len(listed) != 1:
            raise OAuthError("invalid_proof", "proofs.jwt must hold exactly one key proof (one credential per offer).")
        token = listed[0]
    elif "proof" in body:
        proof = body["proof"]
        if not isinstance(proof, dict) or proof.get("proof_type") != "jwt":
            raise OAuthError("invalid_proof", "proof must be a jwt proof.")
        token = proof.get("jwt")
    else:
        raise OAuthError("invalid_proof", "A key proof (proofs.jwt) is required.")
    if not isinstance(token, str) or not token:
        raise OAuthError("invalid_proof", "The jwt key proof must be a compact JWT string.")
    return CredentialRequest(proof_jwt=token)


@dataclass(frozen=True)
class KeyProof:
    holder: str  # the DID the credential is bound to: the did:key, or a did:jwk made from the jwk header
    nonce: str


def did_jwk(jwk: dict[str, Any]) -> str:
    """`did:jwk` of a public JWK: its required members (RFC 7638 order, no whitespace), so one key gives one DID."""
    members = ("crv", "kty", "x", "y") if jwk.get("kty") == "EC" else ("crv", "kty", "x")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return "did:jwk:" + base64.urlsafe_b64encode(canonical.encode()).rstrip(b"=").decode()


def verify_key_proof(token: str, *, credential_issuer: str, now: datetime) -> KeyProof:
    """Check a `jwt` key proof (OID4VCI 1.0 §F.1) and return the holder it binds and its nonce; else invalid_proof."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise OAuthError("invalid_proof", f"The key proof is not a JWT: {error}.") from error
    if header.get("typ") != PROOF_TYP:
        raise OAuthError("invalid_proof", f"The key proof's typ must be {PROOF_TYP}.")
    algorithm = header.get("alg")
    if algorithm not in PROOF_ALGORITHMS:
        raise OAuthError("invalid_proof", f"The key proof's alg must be one of {', '.join(PROOF_ALGORITHMS)}.")
    holder, key = _proof_key(header)
    if not isinstance(key, Ed25519PublicKey if algorithm == "EdDSA" else EllipticCurvePublicKey) or (
        isinstance(key, EllipticCurvePublicKey) and not isinstance(key.curve, SECP256R1)
    ):
        raise OAuthError("invalid_proof", f"The proof's key does not sign {algorithm}.")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=credential_issuer,
            options={"require": ["aud", "iat"], "verify_iat": False, "verify_exp": True, "verify_nbf": True},
            leeway=CLOCK_SKEW,
        )
    except jwt.PyJWTError as error:
        raise OAuthError("invalid_proof", f"The key proof does not verify: {error}.") from error
    issued = claims.get("iat")
    if not isinstance(issued, int | float) or isinstance(issued, bool):
        raise OAuthError("invalid_proof", "The key proof's iat must be a number.")
    age = now.timestamp() - issued
    if age > PROOF_MAX_AGE.total_seconds() or age < -CLOCK_SKEW.total_seconds():
        raise OAuthError("invalid_proof", "The key proof's iat is not recent: make a new proof.")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise OAuthError("invalid_proof", "The key proof must carry a c_nonce from the nonce endpoint.")
    return KeyProof(holder=holder, nonce=nonce)


def _proof_key(header: dict[str, Any]) -> tuple[str, Any]:
    """The holder DID and public key named by the proof's `kid` (did:key) or `jwk` header (exactly one)."""
    named = [member for member in ("kid", "jwk", "x5c") if member in header]
    if named == ["kid"]:
        kid = header["kid"]
        if not isinstance(kid, str) or not kid.startswith(DID_KEY_PREFIX):
            raise OAuthError("invalid_proof", "kid must be a did:key DID URL.")
        did, _, fragment = kid.partition("#")
        multibase = did.removeprefix(DID_KEY_PREFIX)
        if fragment not in ("", multibase):
            raise OAuthError("invalid_proof", "kid must name the did:key's own key (did:key:<mb>#<mb>).")
        try:
            return did, multikey_public_key(multibase)
        except (CredentialError, ValueError) as error:
            raise OAuthError("invalid_proof", f"kid is not a usable did:key: {error}") from error
    if named == ["jwk"]:
        jwk = header["jwk"]
        try:
            key = public_key_from_jwk(jwk)
            return did_jwk(jwk), key
        except (CredentialError, KeyError, TypeError, ValueError) as error:
            raise OAuthError("invalid_proof", f"jwk is not a usable public key: {error}") from error
    raise OAuthError("invalid_proof", "The key proof must name its key with exactly one of kid (did:key) or jwk.")
