"""Server-rendered pages: one Jinja environment over every module's ``templates/`` folder."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from qala.core.i18n import gettext, ngettext, reset_language, set_language
from qala.core.modules import Module
from qala.settings import LANGUAGES

LANGUAGE_NAMES = {"ru": "Русский", "kk": "Қазақша", "en": "English"}


def build_templates(modules: Sequence[Module]) -> Environment:
    """The page environment: each module's templates, gettext bound to the current language."""
    loaders = []
    for module in modules:
        folder = files(f"qala.{module.name}").joinpath("templates")
        if folder.is_dir():
            loaders.append(FileSystemLoader(str(folder)))
    environment = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=False
    )
    environment.globals["LANGUAGES"] = LANGUAGES
    environment.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    return environment


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a page in the request's language."""
    environment: Environment = request.app.state.qala.templates
    language = getattr(request.state, "language", "ru")
    token = set_language(language)
    try:
        html = environment.get_template(template).render(
            request=request, language=language, **context
        )
    finally:
        reset_language(token)
    return HTMLResponse(html, status_code=status_code)
