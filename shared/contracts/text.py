"""Validated string types for text that may end up in a credential or in an id derived from it.

Signed credentials are canonicalised (RFC 8785 / RDFC-1.0) and shown to people, so text is normalised to NFC (one
spelling per character: "é" composed or decomposed signs the same) and control characters are kept out:
- C0 controls other than TAB, LF and CR, DEL, and C1 controls (U+0080-U+009F: never text in Unicode; they appear
  when Windows-1252 bytes are decoded as Latin-1) and lone surrogates (not encodable as UTF-8).
- `Text` refuses them (422 naming the field): an admin can fix an Achievement or issuer profile.
- `LmsText` replaces them with a space: an LMS cannot edit a learner's display name, and refusing the event would
  lose the learner's activity over a cosmetic character (Word's line break U+000B, typically).
- `Identifier` refuses every control character, TAB/LF/CR included, and is not normalised: ids are opaque, must
  stay stable, and a control character in one could only confuse the ids derived from it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Annotated

from pydantic import BeforeValidator

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _describe(found: re.Match[str]) -> str:
    code = ord(found.group())
    what = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    return f"contains {what} (U+{code:04X}) at position {found.start()}"


def find_control_character(value: str, *, allow_whitespace: bool = True) -> str | None:
    """Why `value` is not acceptable text (which character, where), or None."""
    found = (_CONTROL if allow_whitespace else _ANY_CONTROL).search(value)
    return _describe(found) if found else None


def clean_text(value: str) -> str:
    """NFC text without control characters (TAB, LF, CR allowed), or ValueError naming the first offender."""
    problem = find_control_character(value)
    if problem:
        raise ValueError(problem)
    return unicodedata.normalize("NFC", value)


def scrub_text(value: str) -> str:
    """NFC text with every control character (but TAB, LF, CR) and lone surrogate replaced by a space."""
    return unicodedata.normalize("NFC", _CONTROL.sub(" ", value))


def clean_identifier(value: str) -> str:
    """An id without any control character (TAB, LF, CR included), unchanged, or ValueError."""
    problem = find_control_character(value, allow_whitespace=False)
    if problem:
        raise ValueError(problem)
    return value


def _strings(check: Callable[[str], str]) -> BeforeValidator:
    """Run `check` on strings before pydantic's own str validation, so length limits apply (and are reported as
    usual) to the cleaned value; anything else is left for pydantic to refuse."""
    return BeforeValidator(lambda value: check(value) if isinstance(value, str) else value)


# The checks on their own, for Annotated types with their own length limits: `Annotated[str, Field(max_length=9),
# IDENTIFIER_CHECK]` (limits listed before the check, or pydantic reports them in generic "items" wording).
TEXT_CHECK = _strings(clean_text)
IDENTIFIER_CHECK = _strings(clean_identifier)

Text = Annotated[str, TEXT_CHECK]
LmsText = Annotated[str, _strings(scrub_text)]
Identifier = Annotated[str, IDENTIFIER_CHECK]
