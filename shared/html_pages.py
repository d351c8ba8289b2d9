"""Server-rendered pages for people (the verifier's badge page, the issuer's claim page): one way to load Jinja2
templates (autoescaped, strict) and one Content-Security-Policy for pages without scripts."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


def templates(folder: Path) -> Environment:
    """Templates from `folder`: every value autoescaped, an undefined name an error (never an empty string)."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def scriptless_policy(stylesheet: str, *, images: str, form_action: str = "'none'") -> str:
    """No scripts, nothing fetched but `images` (CSP source list), only this inline stylesheet (by its hash);
    forms post only where `form_action` (a CSP source list) allows."""
    digest = base64.b64encode(hashlib.sha256(stylesheet.encode("utf-8")).digest()).decode("ascii")
    return (
        f"default-src 'none'; img-src {images}; style-src 'sha256-{digest}'; "
        f"base-uri 'none'; form-action {form_action}; frame-ancestors 'none'"
    )
