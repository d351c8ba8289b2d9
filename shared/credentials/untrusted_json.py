"""JSON from strangers: parse it, and refuse what would crash or mislead the code that reads it afterwards.

Anyone can send the verifier a credential, and a credential points at documents anyone can serve. Python's
``json`` module, pyld and the HTTP layer each fail in their own way on some valid-looking input: nesting a few
hundred levels deep exhausts the interpreter stack (``RecursionError`` in expansion from ~490 levels, in
``json.loads`` from ~990), a lone UTF-16 surrogate (``"\\ud800"``, legal JSON) cannot be encoded as UTF-8
when hashing or answering, ``NaN``/``Infinity`` are not JSON (RFC 8259 §6) and cannot be answered either, and
a 5,000-digit number is refused by ``int()``. These are turned into :class:`UntrustedJsonError` with a code.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import CredentialError

# Far deeper than any credential (Open Badges 3.0 documents nest about ten levels) and far below the ~490
# levels at which JSON-LD expansion runs out of stack.
MAX_NESTING_DEPTH = 100


class UntrustedJsonError(CredentialError):
    """The input is not JSON we read; ``code`` is ``data.not_json``, ``data.too_deep`` or ``data.invalid_text``."""

    code = "data.not_json"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (RFC 8259 §6)")


def parse_json(data: bytes | str) -> Any:
    """Parse ``data`` as JSON (UTF-8 when bytes) and check it with :func:`json_problem`; raise on any problem."""
    try:
        value = json.loads(data, parse_constant=_no_constants)
    except RecursionError as exc:
        raise UntrustedJsonError(f"JSON nested deeper than {MAX_NESTING_DEPTH} levels", code="data.too_deep") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, NaN, numbers int() refuses
        raise UntrustedJsonError(f"not JSON: {exc}") from exc
    check_json(value)
    return value


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_problem(value: Any) -> UntrustedJsonError | None:
    """The first reason ``value`` (already parsed) cannot be processed safely, or ``None``.

    Walks iteratively (the point is not to recurse on hostile depth): nesting deeper than
    :data:`MAX_NESTING_DEPTH`, and strings or member names holding lone surrogates (not Unicode scalar values,
    so not representable in UTF-8: RFC 8259 §8.2).
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= MAX_NESTING_DEPTH:
                return UntrustedJsonError(f"JSON nested deeper than {MAX_NESTING_DEPTH} levels", code="data.too_deep")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, item in items:
                if isinstance(key, str) and _has_lone_surrogate(key):
                    return UntrustedJsonError("a member name holds a lone UTF-16 surrogate", code="data.invalid_text")
                stack.append((item, depth + 1))
        elif isinstance(node, str) and _has_lone_surrogate(node):
            return UntrustedJsonError(
                "a string holds a lone UTF-16 surrogate (not Unicode text)", code="data.invalid_text"
            )
        elif isinstance(node, float) and not math.isfinite(node):
            return UntrustedJsonError("NaN and Infinity are not JSON values (RFC 8259 §6)")
    return None


def check_json(value: Any) -> None:
    """Raise the :func:`json_problem` of ``value``, if any."""
    problem = json_problem(value)
    if problem is not None:
        raise problem
