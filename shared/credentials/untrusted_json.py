"""JSON from strangers, as the verifier reads it: :mod:`shared.untrusted_json`'s checks, reported as credential
errors with a check code.

Anyone can send the verifier a credential, and a credential points at documents anyone can serve. Python's
``json`` module, pyld and the HTTP layer each fail in their own way on some valid-looking input: nesting a few
hundred levels deep exhausts the interpreter stack (``RecursionError`` in expansion from ~490 levels, in
``json.loads`` from ~990), a lone UTF-16 surrogate (``"\\ud800"``, legal JSON) cannot be encoded as UTF-8
when hashing or answering, ``NaN``/``Infinity`` are not JSON (RFC 8259 §6) and cannot be answered either, and
a 5,000-digit number is refused by ``int()``. These become :class:`UntrustedJsonError` with a code
(``data.not_json``, ``data.too_deep``, ``data.invalid_text``).
"""

from __future__ import annotations

from typing import Any

from shared import untrusted_json

from .errors import CredentialError

# Far deeper than any credential (Open Badges 3.0 documents nest about ten levels) and far below the ~490
# levels at which JSON-LD expansion runs out of stack.
MAX_NESTING_DEPTH = 100


class UntrustedJsonError(CredentialError):
    """The input is not JSON we read; ``code`` is ``data.not_json``, ``data.too_deep`` or ``data.invalid_text``."""

    code = "data.not_json"


def _as_credential_error(error: untrusted_json.UntrustedJsonError) -> UntrustedJsonError:
    return UntrustedJsonError(str(error), code=error.code)


def parse_json(data: bytes | str) -> Any:
    """Parse ``data`` as JSON (UTF-8 when bytes) and check it; raise :class:`UntrustedJsonError` on any problem."""
    try:
        return untrusted_json.loads_untrusted(data, max_depth=MAX_NESTING_DEPTH)
    except untrusted_json.UntrustedJsonError as error:
        raise _as_credential_error(error) from error


def json_problem(value: Any) -> UntrustedJsonError | None:
    """The first reason ``value`` (already parsed) cannot be processed safely, or ``None``: nesting deeper than
    :data:`MAX_NESTING_DEPTH`, lone surrogates in strings or member names, non-finite numbers."""
    try:
        untrusted_json.check_untrusted(value, MAX_NESTING_DEPTH, finite=True)
    except untrusted_json.UntrustedJsonError as error:
        return _as_credential_error(error)
    return None


def check_json(value: Any) -> None:
    """Raise the :func:`json_problem` of ``value``, if any."""
    problem = json_problem(value)
    if problem is not None:
        raise problem
