"""The small selection grammar shared by entity types (§4.17) and scopes (§4.19): names joined
by ``|`` or ``,`` (or) and ``;`` (and), grouped with parentheses; ``;`` binds tighter."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData

EntityPredicate = Callable[[dict[str, Any]], bool]

_TOKENS = re.compile(r"\s*([(),;|])\s*|\s*([^(),;|]+?)\s*(?=[(),;|]|$)")


@dataclass(frozen=True)
class Selection:
    """A node of a selection: ``atom`` (a name), or ``and`` / ``or`` over children."""

    op: str
    atom: str = ""
    children: tuple[Selection, ...] = ()

    def names(self) -> list[str]:
        """Every name in the selection."""
        if self.op == "atom":
            return [self.atom]
        return [name for child in self.children for name in child.names()]

    def is_disjunction(self) -> bool:
        """True for ``A``, ``A|B|...`` (nested or-groups included): any one name suffices."""
        return self.op == "atom" or (
            self.op == "or" and all(child.is_disjunction() for child in self.children)
        )

    def evaluate(self, test: Callable[[str], bool]) -> bool:
        """Whether the selection holds when each name is judged by ``test``."""
        if self.op == "atom":
            return test(self.atom)
        if self.op == "and":
            return all(child.evaluate(test) for child in self.children)
        return any(child.evaluate(test) for child in self.children)

    def matches(self, present: set[str]) -> bool:
        """Whether the selection holds for a set of present names."""
        return self.evaluate(present.__contains__)


class _Reader:
    def __init__(self, text: str, field: str, atom: Callable[[str], str]) -> None:
        self.text, self.field, self.atom = text, field, atom
        self.tokens: list[tuple[str, int]] = []
        position = 0
        for found in _TOKENS.finditer(text):
            if found.start() != position:
                self.fail("unexpected text", position)
            self.tokens.append((found.group(1) or found.group(2), found.start()))
            position = found.end()
        if position != len(text):
            self.fail("unexpected text", position)
        self.index = 0

    def fail(self, message: str, position: int) -> NoReturn:
        raise BadRequestData(
            f"invalid {self.field} at position {position}: {message} (in {self.text!r})",
            field=self.field,
        )

    def peek(self) -> str:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else ""

    def position(self) -> int:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else len(self.text)

    def disjunction(self) -> Selection:
        items = [self.conjunction()]
        while self.peek() in ("|", ","):
            self.index += 1
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else Selection("or", children=tuple(items))

    def conjunction(self) -> Selection:
        items = [self.factor()]
        while self.peek() == ";":
            self.index += 1
            items.append(self.factor())
        return items[0] if len(items) == 1 else Selection("and", children=tuple(items))

    def factor(self) -> Selection:
        piece, position = self.peek(), self.position()
        if piece == "(":
            self.index += 1
            node = self.disjunction()
            if self.peek() != ")":
                self.fail(f"the '(' at position {position} is never closed", self.position())
            self.index += 1
            return node
        if piece in ("", ")", ",", ";", "|"):
            self.fail("expected a name" if piece else "expected a name at the end", position)
        self.index += 1
        return Selection("atom", atom=self.atom(piece))


def parse_selection(text: str, field: str, atom: Callable[[str], str]) -> Selection:
    """Parse a selection; each name passes through ``atom`` (validate, expand)."""
    if not isinstance(text, str) or not text.strip():
        raise BadRequestData(f"{field} is empty", field=field)
    reader = _Reader(text, field, atom)
    tree = reader.disjunction()
    if reader.index != len(reader.tokens):
        reader.fail(f"unexpected {reader.peek()!r}", reader.position())
    return tree


_NOT_IN_TYPE_NAMES = frozenset("<>\"'= \t&?/#")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S")


def type_selection(
    text: str, terms: TermMap, field: str = "type"
) -> tuple[EntityPredicate, tuple[str, ...] | None]:
    """Entity type selection (§4.17): a predicate over an entity's expanded types and, for a
    plain disjunction, the IRIs the database may pre-filter on (None: only the predicate)."""
    if text.strip() == "*":
        return (lambda entity: True), None

    def expand(name: str) -> str:
        if not _SCHEME.match(name) and _NOT_IN_TYPE_NAMES & set(name):
            raise BadRequestData(f"invalid entity type {name!r} in {field}", field=field)
        return terms.expand(name)

    tree = parse_selection(text, field, expand)
    if tree.is_disjunction():
        names = frozenset(tree.names())
        return (lambda entity: not names.isdisjoint(entity["type"])), tuple(sorted(names))
    return (lambda entity: tree.matches(set(entity["type"]))), None
