"""Russian, Kazakh and English: Babel catalogs, the request's language, lazy strings."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from qala.settings import LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
_language: ContextVar[str] = ContextVar("qala_language", default="ru")


@functools.cache
def translations(language: str) -> Translations:
    """The compiled catalog of ``language``, read from its .po file (no build step needed)."""
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return Translations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def current_language() -> str:
    """The language of the request or command being served."""
    return _language.get()


def set_language(language: str) -> Any:
    """Make ``language`` current; returns a token for ``reset_language``."""
    return _language.set(language if language in LANGUAGES else "ru")


def reset_language(token: Any) -> None:
    """Restore the language that was current before ``set_language``."""
    _language.reset(token)


def gettext(message: str, **params: Any) -> str:
    """Translate ``message`` into the current language and fill ``{params}``."""
    text = translations(current_language()).ugettext(message)
    return text.format(**params) if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    """Translate with plural forms (Russian and Kazakh differ from English)."""
    text = translations(current_language()).ungettext(singular, plural, n)
    return text.format(n=n, **params)


class LazyText(str):
    """A message id translated when rendered, so it can be declared at import time."""

    __slots__ = ("params",)
    params: dict[str, Any]

    def __new__(cls, message: str, **params: Any) -> LazyText:
        """Keep the message id; translation happens in ``__str__``."""
        instance = super().__new__(cls, message)
        instance.params = params
        return instance

    def __str__(self) -> str:
        """The translation in the current language."""
        return gettext(str.__str__(self), **self.params)

    def __html__(self) -> str:
        """Let Jinja render a lazy string as its translation (escaped as usual)."""
        from markupsafe import escape

        return str(escape(str(self)))

    def in_language(self, language: str) -> str:
        """The translation in ``language``, whatever the current one is."""
        token = set_language(language)
        try:
            return str(self)
        finally:
            reset_language(token)


def _(message: str, **params: Any) -> LazyText:
    """Mark a user-facing string for translation (extracted by ``pybabel extract``)."""
    return LazyText(message, **params)


def negotiate(accept_language: str, supported: Iterable[str] = LANGUAGES) -> str | None:
    """The best of ``supported`` for an Accept-Language header, or None."""
    choices: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary == "kz":  # a common mistake for Kazakh
            primary = "kk"
        if primary in supported and quality > 0:
            choices.append((-quality, order, primary))
    return min(choices)[2] if choices else None
