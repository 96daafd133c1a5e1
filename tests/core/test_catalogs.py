"""The ru/kk/en catalogs: every marked string is translated, placeholders survive, Kazakh is Kazakh.

A string marked with ``_()`` but missing from a catalog fails here: run ``make i18n`` (extract and
update), then translate the new entries in ``src/qala/locale/{ru,kk}/LC_MESSAGES/messages.po``.
English is the source language: its msgstrs may stay empty.
"""

from __future__ import annotations

import functools
import re
import string
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from qala.core.i18n import _, current_language, gettext, reset_language, set_language

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "qala"  # babel.cfg's patterns are relative to this folder
LOCALE = SOURCE / "locale"
TRANSLATED = ("ru", "kk")  # must be complete
LANGUAGES = ("ru", "kk", "en")  # en: the source; an empty msgstr means "use the msgid"

#: Kazakh letters Russian does not have; real Kazakh text nearly always has one of them.
KAZAKH_LETTERS = frozenset("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
#: Share of Kazakh entries that must contain a Kazakh letter (a fully correct catalog is ~0.9;
#: Russian left in place scores 0).
KAZAKH_LETTER_SHARE = 0.7
#: A Kazakh entry of this many words or more without a Kazakh letter is probably Russian.
LONG_ENTRY_WORDS = 4
#: Words of Russian grammar that do not occur in Kazakh text (loanwords are fine, these are not).
RUSSIAN_WORDS = frozenset({"и", "в", "во", "на", "для", "или", "что", "это", "нет", "по", "из"})
#: Kazakh msgstrs allowed to equal the Russian one (the GLOSSARY's shared terms) or to break the
#: heuristics above. Latin-only strings (Qala, Email, API) and numbers are always allowed.
SAME_IN_KAZAKH = frozenset(
    {"карта", "оператор", "энергетика", "талон", "инновация", "технопарк", "индикатор"}
)
#: Translations allowed to equal the English msgid (names and codes everyone writes in Latin).
SAME_AS_ENGLISH = frozenset({"qala", "email", "e-mail", "api", "json", "id", "ok", "geojson"})
CYRILLIC = re.compile(r"[а-яёА-ЯЁ]|[әғқңөұүһіӘҒҚҢӨҰҮҺІ]")


@functools.cache
def extracted() -> dict[str, tuple[tuple[str, ...], set[str]]]:
    """Every message marked in the source, as babel.cfg extracts it: id -> (ids, files)."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")
    found: dict[str, tuple[tuple[str, ...], set[str]]] = {}
    files: dict[str, set[str]] = defaultdict(set)
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(SOURCE), method_map, options_map
    ):
        ids = message if isinstance(message, tuple) else (message,)
        found[ids[0]] = (ids, files[ids[0]])
        files[ids[0]].add(f"{filename}:{lineno}")
    return found


@functools.cache
def catalog(language: str) -> Catalog:
    """The committed catalog of ``language`` (parsing errors fail the test)."""
    path = LOCALE / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po_file:
        return read_po(po_file, locale=language, abort_invalid=True)


def entries(language: str) -> list[Message]:
    """The catalog's messages, without the header and obsolete ones."""
    return [message for message in catalog(language) if message.id]


def forms(message: Message) -> tuple[str, ...]:
    """The msgstr, or every plural form of it."""
    return message.string if isinstance(message.string, tuple) else (message.string,)


def fields(text: str) -> set[str]:
    """The ``{placeholders}`` of a str.format string."""
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name}


def _left_in_english(text: str, ids: tuple[str, ...]) -> bool:
    has_letters = re.search(r"[^\W\d_]", text) is not None
    return has_letters and text in ids and text.strip(" .").casefold() not in SAME_AS_ENGLISH


def test_source_has_marked_strings() -> None:
    """The extraction itself works (a broken babel.cfg would make every other check vacuous)."""
    ids = extracted()
    assert "Sign in" in ids, "templates are not extracted: check babel.cfg"
    assert "Bad request" in ids, "Python sources are not extracted: check babel.cfg"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_marked_string_is_translated(language: str) -> None:
    """A string a developer marks but nobody translates fails the build, listing the ids."""
    problems = []
    for msgid, (ids, where) in sorted(extracted().items()):
        message = catalog(language).get(msgid)
        origin = ", ".join(sorted(where))
        if message is None:
            problems.append(f"missing: {msgid!r} ({origin})")
        elif message.fuzzy:
            problems.append(f"fuzzy, review it: {msgid!r} ({origin})")
        elif len(ids) > 1 and len(forms(message)) != catalog(language).num_plurals:
            problems.append(f"wrong number of plural forms: {msgid!r} ({origin})")
        elif not all(text.strip() for text in forms(message)):
            problems.append(f"untranslated: {msgid!r} ({origin})")
        elif any(_left_in_english(text, ids) for text in forms(message)):
            problems.append(f"copied from English, not translated: {msgid!r} ({origin})")
    assert not problems, (
        f"{language} catalog is incomplete; run `make i18n` and translate in "
        f"src/qala/locale/{language}/LC_MESSAGES/messages.po:\n  " + "\n  ".join(problems)
    )


@pytest.mark.parametrize(("language", "nplurals"), [("ru", 3), ("kk", 2), ("en", 2)])
def test_plural_forms_header(language: str, nplurals: int) -> None:
    """Russian has three plural forms; Kazakh and English two (CLDR)."""
    assert catalog(language).num_plurals == nplurals


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_are_kept(language: str) -> None:
    """``{name}`` in a translation is exactly the msgid's, or ``str.format`` breaks at run time."""
    problems = []
    for message in entries(language):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = fields(ids[-1])  # plural: every form names the plural's {n} (ru: 21 is "one")
        for text in forms(message):
            if not text:
                continue
            try:
                found = fields(text)
            except ValueError as error:
                problems.append(f"{ids[0]!r}: {text!r} is not a valid format string ({error})")
                continue
            if found != expected:
                problems.append(f"{ids[0]!r}: {text!r} has {sorted(found)}, not {sorted(expected)}")
    assert not problems, f"{language} placeholders differ:\n  " + "\n  ".join(problems)


def _is_exempt(text: str) -> bool:
    return not CYRILLIC.search(text) or text.strip(" .").casefold() in SAME_IN_KAZAKH


def test_kazakh_is_not_russian_left_in_place() -> None:
    """Kazakh entries differ from the Russian ones and read as Kazakh (a heuristic)."""
    russian = catalog("ru")
    problems = []
    with_letter = checked = 0
    for message in entries("kk"):
        ru_message = russian.get(message.id)
        for index, text in enumerate(forms(message)):
            if not text or _is_exempt(text):
                continue
            checked += 1
            has_letter = not KAZAKH_LETTERS.isdisjoint(text)
            with_letter += has_letter
            words = re.findall(r"[^\W\d_]+", text.casefold())
            ru_forms = forms(ru_message) if ru_message is not None else ()
            if index < len(ru_forms) and text == ru_forms[index]:
                problems.append(f"same as Russian: {text!r}")
            if not has_letter and len(words) >= LONG_ENTRY_WORDS:
                problems.append(f"no Kazakh letter in a sentence: {text!r}")
            if russian_words := sorted(RUSSIAN_WORDS.intersection(words)):
                problems.append(f"Russian words {russian_words}: {text!r}")
    assert not problems, "kk catalog looks like Russian:\n  " + "\n  ".join(problems)
    assert checked, "the kk catalog has no entries"
    share = with_letter / checked
    assert share >= KAZAKH_LETTER_SHARE, (
        f"only {share:.0%} of Kazakh entries have a Kazakh letter (ә ғ қ ң ө ұ ү һ і); "
        "is Russian or English left in the kk catalog?"
    )


@pytest.fixture
def language_reset() -> Iterator[None]:
    """Restore the current language after a test that switches it."""
    token = set_language(current_language())
    yield
    reset_language(token)


@pytest.mark.usefixtures("language_reset")
def test_gettext_speaks_the_current_language() -> None:
    """With Kazakh current, a kernel string and a templated one come out in Kazakh."""
    set_language("kk")
    assert gettext("Sign in") == "Кіру"
    assert gettext("Situational centre") == "Жағдаяттық орталық"
    password = gettext("The password must have at least {n} characters.", n=8)
    assert password == "Құпиясөз кемінде 8 таңбадан тұруы керек."
    set_language("ru")
    assert gettext("Sign out") == "Выйти"
    set_language("en")
    assert gettext("Sign out") == "Sign out"


@pytest.mark.usefixtures("language_reset")
def test_lazy_text_in_each_language() -> None:
    """A string declared at import time renders in any language, leaving the current one alone."""
    set_language("en")
    title = _("Situational centre")
    assert title.in_language("ru") == "Ситуационный центр"
    assert title.in_language("kk") == "Жағдаяттық орталық"
    assert title.in_language("en") == "Situational centre"
    assert current_language() == "en"
    missing = _("There is no city '{slug}'.", slug="taraz")
    assert missing.in_language("kk") == "«taraz» қаласы табылмады."
    assert str(missing) == "There is no city 'taraz'."
