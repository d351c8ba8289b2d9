"""`credstream verify FILE...`: verify credential files (JSON, baked PNG/SVG) and print one JSON line each."""

import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.verifier.pool import VerificationPool
from services.verifier.verification import CredentialVerifier, build_fetcher, verification_limits
from shared.credentials.baking import BakingError, baked_media_type, extract_from_png, extract_from_svg
from shared.credentials.dates import parse_xsd_datetime
from shared.credentials.fetch import StaticFetcher
from shared.credentials.resolver import did_web_document_url
from shared.credentials.untrusted_json import UntrustedJsonError, parse_json
from shared.credentials.vcjwt import VcJwt, VcJwtError, decode_vc_jwt, is_compact_jws
from shared.http import ProblemError
from shared.settings import Settings


class InputError(ValueError):
    """A file that holds no credential we can read; ``code`` says why (as in ``POST /verify`` problems)."""

    def __init__(self, message: str, code: str = "request.invalid") -> None:
        super().__init__(message)
        self.code = code


def read_credential(path: Path) -> dict[str, Any] | VcJwt:
    """Read a credential from a JSON file, a VC-JWT file or a baked PNG/SVG badge (JSON or VC-JWT)."""
    data = path.read_bytes()
    try:
        media_type = baked_media_type(data)
        if media_type == "image/png":
            text = extract_from_png(data)
        elif path.suffix.lower() == ".svg" or media_type == "image/svg+xml":
            text = extract_from_svg(data)
        else:
            text = data.decode("utf-8")
    except BakingError as error:
        raise InputError(str(error), "request.not_baked") from error
    except UnicodeDecodeError as error:
        raise InputError(f"not UTF-8 text: {error}", "request.not_json") from error
    try:
        credential = parse_json(text)
    except UntrustedJsonError as error:
        if error.code == "data.not_json" and is_compact_jws(text):
            try:
                return decode_vc_jwt(text)
            except VcJwtError as bad:
                raise InputError(f"a VC-JWT that cannot be read: {bad}", bad.code) from bad
        raise InputError(str(error), "request.not_json" if error.code == "data.not_json" else error.code) from error
    if not isinstance(credential, dict):
        raise InputError("the credential is not a JSON object", "request.not_an_object")
    return credential


def load_documents(specs: list[str], insecure_hosts: frozenset[str]) -> dict[str, Any]:
    """Parse `URL=FILE` specs; a did:web DID as the key stands for its DID document's URL."""
    documents: dict[str, Any] = {}
    for spec in specs:
        key, sep, path = spec.partition("=")
        if not sep or not key or not path:
            raise InputError(f"--doc wants URL=FILE, got {spec!r}")
        try:
            document = parse_json(Path(path).read_bytes())
        except (OSError, UntrustedJsonError) as error:
            raise InputError(f"--doc {spec}: {error}") from error
        url = did_web_document_url(key, insecure_hosts) if key.startswith("did:web:") else key
        documents[url.partition("#")[0]] = document
    return documents


async def _verify_all(files: list[Path], verifier: CredentialVerifier, now: datetime, trust_named_keys: bool) -> bool:
    all_verified = True
    for file in files:
        try:
            credential = read_credential(file)
            # Same worker process, work bound and deadline as the service: one hostile file cannot stall the batch.
            report = await verifier.verify(credential, now, trust_named_keys=trust_named_keys)
        except (OSError, InputError) as error:
            code = error.code if isinstance(error, InputError) else "request.unreadable"
            print(json.dumps({"file": str(file), "verified": False, "code": code, "error": str(error)}))
            all_verified = False
            continue
        except ProblemError as problem:
            code = problem.extra.get("code")
            print(json.dumps({"file": str(file), "verified": False, "error": problem.detail, "code": code}))
            all_verified = False
            continue
        except Exception as error:  # one bad file must not stop the batch, nor print a traceback
            message = f"{type(error).__name__} while verifying (a bug: please report it)"
            print(
                json.dumps({"file": str(file), "verified": False, "code": "verifier.internal_error", "error": message})
            )
            all_verified = False
            continue
        print(json.dumps({"file": str(file), **report.model_dump(mode="json")}))
        all_verified = all_verified and report.verified
    return all_verified


def verify_files(
    files: list[Path],
    docs: list[str],
    *,
    offline: bool,
    now: str | None,
    settings: Settings,
    trust_named_keys: bool = False,
) -> int:
    """Exit status: 0 if every file verifies, 1 if any does not, 2 for bad arguments."""
    insecure = settings.insecure_hosts()
    try:
        documents = load_documents(docs, insecure)
        at = parse_xsd_datetime(now) if now else datetime.now(UTC)
    except (InputError, ValueError) as error:
        print(f"credstream verify: {error}", file=sys.stderr)
        return 2
    fetcher = StaticFetcher(documents, fallback=None if offline else build_fetcher(settings))
    verifier = CredentialVerifier(
        fetcher,
        insecure,
        pool=VerificationPool(verification_limits(settings)),
        clock_skew=timedelta(seconds=settings.verify_clock_skew_seconds),
    )
    try:
        return 0 if asyncio.run(_verify_all(files, verifier, at, trust_named_keys)) else 1
    finally:
        verifier.close()
