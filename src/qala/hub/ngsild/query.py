"""The NGSI-LD query languages: entity type selection (ETSI GS CIM 009 §4.17) and ``q`` (§4.9).

``q`` is read by a hand-written scanner and recursive-descent parser into a small syntax tree
(``Logic`` / ``Term``), which ``query_match`` compiles once into closures over stored entities.
Precedence: parentheses, then ``;`` (and), then ``|`` (or)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from qala.hub.ngsild.context import NGSI_LD, TermMap
from qala.hub.ngsild.errors import BadRequestData

EntityPredicate = Callable[[dict[str, Any]], bool]

#: Members of an attribute instance a dotted path may name (``temperature.observedAt``).
INSTANCE_MEMBERS = frozenset({"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"})
#: Path segments that mean "the attribute's own value" (``speed.value``).
VALUE_MEMBERS = frozenset({"value", "object", "hasValue", "hasObject"})
OPERATORS = ("==", "!~=", "!=", "~=", ">=", "<=", ">", "<")
ORDERING = frozenset({">", ">=", "<", "<="})
_NAME_STOP = frozenset(".[]{}()=!<>~;|,\"' \t\r\n")
_IRI_HEAD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\[\]{}()=!<>~;|,\"']*[/#]")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+\- ]\d{2}(?::?\d{2})?)?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?[Zz]?")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S")


@dataclass(frozen=True)
class Literal:
    """A value in a query term: kind is number, string, bool, datetime, date, time or uri."""

    kind: str
    value: Any


@dataclass(frozen=True)
class Path:
    """Where a term looks: an attribute, its sub-attributes, a member, a compound trail."""

    attr: str  # expanded name of the top-level attribute
    subs: tuple[str, ...] = ()  # expanded sub-attribute names, outermost first
    member: str | None = None  # observedAt, unitCode, datasetId, createdAt or modifiedAt
    trail: tuple[str, ...] = ()  # members inside a compound value, or a language tag
    text: str = ""


@dataclass(frozen=True)
class Term:
    """One query term: existence (op None), non-existence (``!attr``) or a comparison."""

    path: Path
    op: str | None = None
    negated: bool = False
    values: tuple[Literal, ...] = ()  # one value, or a value list (any of)
    low_high: tuple[Literal, Literal] | None = None  # a range ``a..b``
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Logic:
    """Terms joined by ``and`` (``;``) or ``or`` (``|``)."""

    op: str
    children: tuple[Node, ...]


Node = Term | Logic


class QuerySyntax:
    """A scanner over one ``q`` expression; every error names the position it stopped at."""

    def __init__(self, text: str, terms: TermMap, field: str = "q") -> None:
        self.text = text
        self.terms = terms
        self.field = field
        self.pos = 0

    def fail(self, message: str, pos: int | None = None) -> NoReturn:
        """Raise BadRequestData pointing at ``pos`` (default: where the scanner is)."""
        at = self.pos if pos is None else pos
        shown = self.text if len(self.text) <= 200 else self.text[:200] + "…"
        raise BadRequestData(
            f"invalid {self.field} at position {at}: {message} (in {shown!r})", field=self.field
        )

    def peek(self, size: int = 1) -> str:
        """The next ``size`` characters (fewer at the end)."""
        return self.text[self.pos : self.pos + size]

    def skip_spaces(self) -> None:
        """Spaces between tokens are tolerated (clients sometimes add them)."""
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def parse(self) -> Node:
        """The whole expression."""
        if not self.text.strip():
            self.fail("the expression is empty")
        node = self.disjunction()
        self.skip_spaces()
        if self.pos < len(self.text):
            char = self.text[self.pos]
            self.fail("unbalanced ')'" if char == ")" else f"unexpected {char!r}")
        return node

    def disjunction(self) -> Node:
        """``a | b | ...``"""
        items = [self.conjunction()]
        self.skip_spaces()
        while self.peek() == "|":
            self.pos += 1
            items.append(self.conjunction())
            self.skip_spaces()
        return items[0] if len(items) == 1 else Logic("or", tuple(items))

    def conjunction(self) -> Node:
        """``a ; b ; ...`` (binds tighter than ``|``)."""
        items = [self.factor()]
        self.skip_spaces()
        while self.peek() == ";":
            self.pos += 1
            items.append(self.factor())
            self.skip_spaces()
        return items[0] if len(items) == 1 else Logic("and", tuple(items))

    def factor(self) -> Node:
        """A parenthesised expression or a single term."""
        self.skip_spaces()
        if self.peek() == "(":
            opened = self.pos
            self.pos += 1
            node = self.disjunction()
            self.skip_spaces()
            if self.peek() != ")":
                self.fail(f"the '(' at position {opened} is never closed")
            self.pos += 1
            return node
        return self.term()

    def term(self) -> Term:
        """``attr``, ``!attr``, ``attr op value``."""
        negated = self.peek() == "!"
        if negated:
            self.pos += 1
        path = self.path()
        self.skip_spaces()
        op = next((op for op in OPERATORS if self.text.startswith(op, self.pos)), None)
        if op is None:
            if self.pos < len(self.text) and self.text[self.pos] not in ";|)":
                self.fail(f"expected an operator (== != > >= < <= ~= !~=) after {path.text!r}")
            return Term(path, negated=negated)
        if negated:
            self.fail("'!' may only stand before an attribute name with no comparison", 0)
        self.pos += len(op)
        self.skip_spaces()
        if op in ("~=", "!~="):
            return Term(path, op, pattern=self.regex())
        return self.comparison(path, op)

    def comparison(self, path: Path, op: str) -> Term:
        """The value side of ``== != > >= < <=``: a value, a list ``a,b`` or a range ``a..b``."""
        start = self.pos
        first = self.value()
        if self.text.startswith("..", self.pos):
            if op in ORDERING:
                self.fail(f"a range needs == or !=, not {op}", start)
            self.pos += 2
            second = self.value()
            if first.kind != second.kind or first.kind in ("bool", "uri"):
                self.fail("both ends of a range must be numbers, strings or times alike", start)
            return Term(path, op, low_high=(first, second))
        values = [first]
        while self.peek() == ",":
            if op in ORDERING:
                self.fail(f"a list of values needs == or !=, not {op}", start)
            self.pos += 1
            values.append(self.value())
        if op in ORDERING and first.kind == "bool":
            self.fail(f"true and false can only be compared with == or !=, not {op}", start)
        return Term(path, op, values=tuple(values))

    def path(self) -> Path:
        """``name(.name)*`` then an optional ``[member.member]`` trail."""
        start = self.pos
        names = [self.name()]
        while self.peek() == ".":
            self.pos += 1
            names.append(self.name())
        trail: list[str] = []
        while self.peek() == "[":
            trail.extend(self.trail())
        if self.peek() == "{":
            self.fail("linked-entity queries (attr{...}) are not supported")
        return self.resolve(names, tuple(trail), start)

    def name(self) -> str:
        """One attribute name (a term, a prefixed name or an IRI)."""
        start = self.pos
        head = _IRI_HEAD.match(self.text, self.pos)
        if head:
            self.pos = head.end()
        while self.pos < len(self.text) and self.text[self.pos] not in _NAME_STOP:
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            found = repr(self.text[self.pos]) if self.pos < len(self.text) else "the end"
            self.fail(f"expected an attribute name, found {found}")
        if not (name[0].isalpha() or name[0] in "_@"):
            self.fail(f"an attribute name must start with a letter: {name!r}", start)
        return name

    def trail(self) -> list[str]:
        """``[a.b]``: member names inside a compound value (not expanded), or a language."""
        opened = self.pos
        self.pos += 1
        end = self.text.find("]", self.pos)
        if end < 0:
            self.fail("the '[' is never closed", opened)
        members = self.text[self.pos : end].split(".")
        if not all(members) or any(set(m) & set("[]{}()=!<>~;|,\"'") for m in members):
            self.fail("expected member names separated by '.' inside [...]", opened)
        self.pos = end + 1
        return members

    def resolve(self, names: list[str], trail: tuple[str, ...], start: int) -> Path:
        """Expand the names through the @context and spot instance members."""
        attr = self.terms.expand(names[0])
        subs: list[str] = []
        member: str | None = None
        for index, name in enumerate(names[1:], start=1):
            short = _member_name(name, self.terms)
            if short in VALUE_MEMBERS and index == len(names) - 1:
                continue
            if short in INSTANCE_MEMBERS:
                if index != len(names) - 1 or trail:
                    self.fail(f"{name} has no sub-attributes or members", start)
                member = short
                continue
            subs.append(self.terms.expand(name))
        return Path(attr, tuple(subs), member, trail, self.text[start : self.pos])

    def value(self) -> Literal:
        """One literal: a quoted string, date-time, date, time, number, boolean, URI or word."""
        self.skip_spaces()
        start = self.pos
        char = self.peek()
        if not char or char in ";|),":
            self.fail("expected a value")
        if char in "\"'":
            return Literal("string", self.quoted())
        for kind, pattern in (("datetime", _DATETIME), ("date", _DATE), ("time", _TIME)):
            found = pattern.match(self.text, self.pos)
            if found and self.ends_value(found.end()):
                self.pos = found.end()
                return Literal(kind, self.moment(kind, found.group(), start))
        found = _NUMBER.match(self.text, self.pos)
        if found and self.ends_value(found.end()):
            self.pos = found.end()
            text = found.group()
            number = float(text) if set(text) & set(".eE") else int(text)
            if number in (float("inf"), float("-inf")):
                self.fail(f"{text} is not a finite number", start)
            return Literal("number", number)
        for word, flag in (("true", True), ("false", False)):
            if self.text.startswith(word, self.pos) and self.ends_value(self.pos + len(word)):
                self.pos += len(word)
                return Literal("bool", flag)
        return self.bare(start)

    def bare(self, start: int) -> Literal:
        """An unquoted URI (``urn:ngsi-ld:X:1``) or, leniently, a bare word."""
        while self.pos < len(self.text) and self.text[self.pos] not in ";|),":
            if self.text.startswith("..", self.pos) and not _SCHEME.match(self.text, start):
                break
            self.pos += 1
        word = self.text[start : self.pos].rstrip()
        if any(char in word for char in "\"'(<>=!~"):
            self.fail(f"unexpected value {word!r}", start)
        return Literal("uri" if _SCHEME.match(word) else "string", word)

    def ends_value(self, end: int) -> bool:
        """Whether a token that stops at ``end`` is a complete value."""
        return (
            end >= len(self.text) or self.text[end] in ";|), \t" or self.text.startswith("..", end)
        )

    def quoted(self) -> str:
        """A JSON string in double quotes (escapes allowed), or a plain string in single ones."""
        quote, start = self.text[self.pos], self.pos
        index = self.pos + 1
        while index < len(self.text) and self.text[index] != quote:
            index += 2 if self.text[index] == "\\" else 1
        if index >= len(self.text):
            self.fail("the string is never closed", start)
        raw = self.text[start + 1 : index]
        self.pos = index + 1
        if quote == "'":
            return raw.replace("\\'", "'")
        try:
            result: str = json.loads(f'"{raw}"')
        except ValueError:
            self.fail("the string has a bad escape sequence", start)
        return result

    def moment(self, kind: str, text: str, start: int) -> Any:
        """A date-time (timezone-aware, UTC when none is given), a date or a time."""
        try:
            if kind == "datetime":
                return as_utc(dt.datetime.fromisoformat(_restore_plus(text)))
            if kind == "date":
                return dt.date.fromisoformat(text)
            return dt.time.fromisoformat(text.rstrip("Zz"))
        except ValueError:
            self.fail(f"{text!r} is not a valid {kind}", start)

    def regex(self) -> re.Pattern[str]:
        """A regular expression: quoted, or raw up to the next ``;`` / ``|`` outside groups."""
        start = self.pos
        if self.peek() in ('"', "'"):
            source = self.quoted()
        else:
            depth, index = 0, self.pos
            while index < len(self.text):
                char = self.text[index]
                if char == "\\":
                    index += 2
                    continue
                if (char in ";|" and depth == 0) or (char == ")" and depth == 0):
                    break
                depth += {"(": 1, ")": -1}.get(char, 0)
                index += 1
            source = self.text[self.pos : index]
            self.pos = index
        if not source:
            self.fail("expected a regular expression", start)
        try:
            return re.compile(source)
        except re.error as error:
            self.fail(f"invalid regular expression: {error}", start)


def _member_name(name: str, terms: TermMap) -> str:
    """``observedAt`` for ``observedAt`` or its expanded IRI; the name itself otherwise."""
    if name in INSTANCE_MEMBERS or name in VALUE_MEMBERS:
        return name
    iri = terms.expand(name)
    if iri.startswith(NGSI_LD):
        return iri[len(NGSI_LD) :]
    return name


def _restore_plus(text: str) -> str:
    """A ``+hh:mm`` offset arrives as `` hh:mm`` when the client did not encode the ``+``."""
    return text[:19] + text[19:].replace(" ", "+") if len(text) > 19 else text


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A timezone-aware date-time (naive ones are read as UTC)."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def parse_q_tree(text: str, terms: TermMap, field: str = "q") -> Node:
    """The syntax tree of a ``q`` expression, or BadRequestData naming the position."""
    if not isinstance(text, str):
        raise BadRequestData(f"{field} must be a string", field=field)
    return QuerySyntax(text, terms, field).parse()


def parse_q(text: str, terms: TermMap, field: str = "q") -> EntityPredicate:
    """Compile a ``q`` expression into a predicate over stored entities."""
    from qala.hub.ngsild.query_match import compile_query

    return compile_query(parse_q_tree(text, terms, field))


def parse_type_selection(
    text: str, terms: TermMap, field: str = "type"
) -> tuple[EntityPredicate, tuple[str, ...] | None]:
    """``type=A,B`` / ``A|B`` (either), ``(A;B)`` (both), parentheses; ``*`` (any type):
    a predicate over an entity and, for a plain disjunction, the IRIs to pre-filter on."""
    from qala.hub.ngsild.selection import type_selection

    return type_selection(text, terms, field)
