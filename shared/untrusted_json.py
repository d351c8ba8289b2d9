"""JSON from outside (an LMS's HTTP body or Kafka record): strict RFC 8259, bounded nesting, valid Unicode.

Python's `json` accepts NaN and ±Infinity (not JSON), recurses once per nesting level (100,000 levels is a
RecursionError) and yields lone surrogates from `\\ud800` escapes (not encodable as UTF-8: the database and every
canonicaliser refuse them later). Each is refused here, at the edge, with a reason the sender can act on.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Deeper than any LMS payload (xAPI statements, Caliper envelopes nest about ten levels).
MAX_DEPTH = 64


class UntrustedJsonError(ValueError):
    """The bytes are not acceptable JSON; the message says why (never echoes the payload)."""

    status = 400  # HTTP: malformed
    code = "data.not_json"  # the verifier's check code

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NonFiniteNumber(UntrustedJsonError):
    """`NaN` / `Infinity` where a number goes: well-formed enough to read, but no value we can accept (a score of
    Infinity used to be accepted and lost downstream), so HTTP answers 422 like any out-of-range number."""

    status = 422


def _refuse_constant(name: str) -> Any:
    raise NonFiniteNumber(f"{name} is not a JSON number (RFC 8259 §6): send a finite number")


def loads_untrusted(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON text, or raise UntrustedJsonError."""
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise UntrustedJsonError(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except UnicodeDecodeError:
        raise UntrustedJsonError("not UTF-8 text") from None
    except RecursionError:
        raise UntrustedJsonError(f"nested deeper than {max_depth} levels", code="data.too_deep") from None
    except UntrustedJsonError:
        raise
    except ValueError as error:  # e.g. an integer of thousands of digits, which int() refuses
        raise UntrustedJsonError(f"not JSON we read: {error}") from None
    check_untrusted(value, max_depth)
    return value


def check_untrusted(value: Any, max_depth: int = MAX_DEPTH, *, finite: bool = False) -> None:
    """Nesting depth and lone surrogates of JSON someone else decoded (e.g. a JWT library), iteratively (a
    recursive walk would fail as json.loads does). ``finite``: also refuse NaN/Infinity values (a number like
    ``1e999`` parses to infinity; where the reader's own validation names the field, leave it off)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif finite and isinstance(item, float) and not math.isfinite(item):
            raise NonFiniteNumber("NaN and Infinity are not JSON numbers (RFC 8259 §6)")
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise UntrustedJsonError(f"nested deeper than {max_depth} levels", code="data.too_deep")
            if isinstance(item, dict):
                for key, member in item.items():
                    if isinstance(key, str):
                        _check_text(key)
                    pending.append((member, depth + 1))
            else:
                pending.extend((member, depth + 1) for member in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise UntrustedJsonError(
            f"a string holds a lone surrogate (U+{ord(text[error.start]):04X}), which is not Unicode text",
            code="data.invalid_text",
        ) from None
