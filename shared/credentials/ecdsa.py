"""ECDSA P-256 / P-384 keys as Multikey values and raw ``r || s`` signatures (W3C vc-di-ecdsa).

``publicKeyMultibase = "z" + base58btc(multicodec header || compressed point)``: header ``0x80 0x24``
(p256-pub, 33-byte point, ``zDn…``) or ``0x81 0x24`` (p384-pub, 49-byte point, ``z82…``). A proof's signature
is the IEEE P1363 form (``r || s``, 64 or 96 bytes) over the hash data, which ECDSA hashes again with the
curve's hash: SHA-256 for P-256, SHA-384 for P-384 (the same hash the cryptosuite uses for its two digests).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from .errors import KeyFormatError
from .multibase import decode_base58btc, encode_base58btc


@dataclass(frozen=True)
class Curve:
    """What a vc-di-ecdsa proof needs to know about one curve."""

    name: str
    multicodec: bytes
    point_size: int  # compressed SEC1 point: 0x02/0x03 || x
    scalar_size: int  # bytes of r and of s
    hash_name: str

    def curve(self) -> ec.EllipticCurve:
        return ec.SECP256R1() if self.name == "P-256" else ec.SECP384R1()

    def hash_algorithm(self) -> hashes.HashAlgorithm:
        return hashes.SHA256() if self.name == "P-256" else hashes.SHA384()


P256 = Curve("P-256", b"\x80\x24", 33, 32, "sha256")
P384 = Curve("P-384", b"\x81\x24", 49, 48, "sha384")
CURVES = (P256, P384)


def curve_of(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> Curve:
    """The supported curve of ``key``; raise :class:`KeyFormatError` for any other."""
    for curve in CURVES:
        if isinstance(key.curve, type(curve.curve())):
            return curve
    raise KeyFormatError(f"ECDSA curve {key.curve.name} is not supported (P-256 and P-384 are)")


def ecdsa_public_key_from_multibase(value: str) -> ec.EllipticCurvePublicKey:
    """Parse a P-256 / P-384 Multikey ``publicKeyMultibase``; anything else raises :class:`KeyFormatError`."""
    raw = decode_base58btc(value)
    for curve in CURVES:
        if raw.startswith(curve.multicodec):
            point = raw[len(curve.multicodec) :]
            if len(point) != curve.point_size or point[0] not in (2, 3):
                raise KeyFormatError(f"{curve.name} key in {value!r} is not a {curve.point_size}-byte compressed point")
            try:
                return ec.EllipticCurvePublicKey.from_encoded_point(curve.curve(), point)
            except ValueError as exc:
                raise KeyFormatError(f"{curve.name} key in {value!r} is not a point on the curve") from exc
    raise KeyFormatError(f"publicKeyMultibase {value!r} is not a P-256 or P-384 public key")


def ecdsa_public_key_multibase(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> str:
    """The Multikey ``publicKeyMultibase`` of a P-256 / P-384 key (``zDn…`` / ``z82…``)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return encode_base58btc(curve_of(public).multicodec + point)


def sign_raw(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA-sign ``data`` with the curve's hash; return ``r || s`` (what vc-di-ecdsa proofs carry)."""
    curve = curve_of(key)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(curve.hash_algorithm())))
    return r.to_bytes(curve.scalar_size, "big") + s.to_bytes(curve.scalar_size, "big")


def verify_raw(public_key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` (``r || s``) is a valid ECDSA signature of ``data`` by ``public_key``."""
    curve = curve_of(public_key)
    if len(signature) != 2 * curve.scalar_size:
        return False
    r = int.from_bytes(signature[: curve.scalar_size], "big")
    s = int.from_bytes(signature[curve.scalar_size :], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(curve.hash_algorithm()))
    except (InvalidSignature, ValueError):
        return False
    return True
