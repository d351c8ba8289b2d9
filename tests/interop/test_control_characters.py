"""Control characters in credential text round-trip with Digital Bazaar (issue 7 §2).

RDFC-1.0 writes U+0000-U+001F and U+007F escaped in canonical N-Quads (``\\b``, ``\\f``, ``\\u000B``, ...); main
wrote them raw, so a badge holding Word's line break (U+000B) signed here failed in vc, and the other way round.
Each character: our canonical form equals rdf-canonize's, vc verifies what we sign, we verify what vc signs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.credentials import canonicalize, did_key, did_key_verification_method, generate_key, sign_credential
from tests.interop.test_digital_bazaar import (
    SIGNED_AT,
    _dbvc,
    _write,
    db_verify,
    our_verify,
    pytestmark,  # noqa: F401 (node + npm packages, as for the other interop tests)
)
from tests.unit.credentials.samples import minimal_credential

CONTROL_CHARACTERS = [chr(code) for code in [*range(0x20), 0x7F]]


def _with_text(credential: dict[str, Any], char: str) -> dict[str, Any]:
    code = f"U+{ord(char):04X}"
    credential["name"] = f"Line{char}break {code}"
    credential["credentialSubject"]["achievement"]["description"] = f"Before{char}after"
    return credential


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One credential per control character, signed by us."""
    work = tmp_path_factory.mktemp("ours-control")
    key = generate_key()
    vm = did_key_verification_method(key)
    return {
        char: _write(
            work / f"u{ord(char):04x}.json",
            sign_credential(_with_text(minimal_credential(did_key(key)), char), key, vm, SIGNED_AT),
        )
        for char in CONTROL_CHARACTERS
    }


def test_canonical_nquads_escape_control_characters_like_rdf_canonize(ours: dict[str, Path]) -> None:
    theirs = {Path(line["file"]).name: line for line in _dbvc("canon", *map(str, ours.values()))}
    for char, path in ours.items():
        assert theirs[path.name]["error"] is None, theirs[path.name]
        assert canonicalize(json.loads(path.read_text())) == theirs[path.name]["nquads"], f"U+{ord(char):04X}"


def test_digital_bazaar_verifies_what_we_sign_with_each_control_character(ours: dict[str, Path]) -> None:
    results = db_verify(list(ours.values()))
    failed = {f"U+{ord(c):04X}": results[p.name] for c, p in ours.items() if not results[p.name]["verified"]}
    assert not failed, failed


def test_we_verify_what_digital_bazaar_signs_with_each_control_character(tmp_path: Path) -> None:
    """vc signs one credential holding every control character (one per tag, and all in the name)."""
    document = minimal_credential("did:key:placeholder")
    document.pop("credentialStatus", None)
    document["name"] = "All: " + "".join(CONTROL_CHARACTERS)
    document["credentialSubject"]["achievement"]["tag"] = [f"tag{char}U+{ord(char):04X}" for char in CONTROL_CHARACTERS]
    unsigned, signed = _write(tmp_path / "unsigned.json", document), tmp_path / "signed.json"
    # Signed before the tests' fixed "now" (a proof created in the future is refused).
    _dbvc("sign", "--created", "2026-01-01T00:00:00Z", str(unsigned), str(signed))
    credential = json.loads(signed.read_text(encoding="utf-8"))
    assert our_verify(credential) == set()
