"""Jinja2 rendering of the badge page (autoescaped) with its inline stylesheet and Content-Security-Policy."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment

from shared.html_pages import scriptless_policy, templates

from .view import BadgeView

_HERE = Path(__file__).resolve().parent
_VERDICT_SYMBOLS = {"verified": "✓", "verified-not-badge": "✓", "expired": "!", "not-yet-valid": "!"}


@cache
def _environment() -> Environment:
    return templates(_HERE / "templates")


@cache
def stylesheet() -> str:
    return (_HERE / "static" / "badge.css").read_text(encoding="utf-8")


@cache
def content_security_policy(form_action: str = "'none'") -> str:
    """No scripts at all, only this page's own stylesheet (by hash), images from here or inline; forms may post
    only where ``form_action`` says (the verify form: ``'self'``)."""
    return scriptless_policy(stylesheet(), images="'self' data:", form_action=form_action)


def image_alt(view: BadgeView) -> str:
    return f"Badge: {view.title}, issued by {view.issuer.text}"


def render_badge_page(view: BadgeView) -> str:
    """The HTML page for ``view``; every value is escaped by the template engine."""
    description = view.description or f"{view.title}, an Open Badge issued by {view.issuer.text}."
    og_description = f"{description} Status: {view.status.label}."
    return (
        _environment()
        .get_template("badge.html")
        .render(
            view=view,
            css=stylesheet(),
            og_description=og_description,
            image_alt=image_alt(view),
            verdict_symbol=_VERDICT_SYMBOLS.get(view.status.key, "✗"),
        )
    )


def render_verify_form(*, text: str = "", error: tuple[str, str] | None = None) -> str:
    """The verify form (``GET /verify``), with the pasted text and why it could not be verified, if so."""
    return _environment().get_template("verify.html").render(css=stylesheet(), text=text, error=error)


def render_not_found(credential_id: str) -> str:
    return _environment().get_template("not_found.html").render(credential_id=credential_id, css=stylesheet())
