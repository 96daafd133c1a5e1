"""The NGSI-LD scope query language (ETSI GS CIM 009 §4.19) over an entity's ``scope`` list:
``/Kazakhstan/Astana`` (exact), ``/Kazakhstan/+/Esil`` (``+`` is one level), ``/Kazakhstan/#``
(the scope and everything below), ``/#`` (any scope), ``;`` (and), ``,`` or ``|`` (or)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.selection import parse_selection

EntityPredicate = Callable[[dict[str, Any]], bool]
ScopeTest = Callable[[str], bool]


def scope_matcher(pattern: str, field: str = "scopeQ") -> ScopeTest:
    """A test of one scope (``/a/b``) against one pattern (``/a/+/c``, ``/a/#``, ``/#``)."""
    if not pattern.startswith("/"):
        raise BadRequestData(f"invalid {field}: a scope starts with '/': {pattern!r}", field=field)
    levels = pattern[1:].split("/")
    deep = levels[-1] == "#"
    if deep:
        levels.pop()
    if not all(levels) or "#" in levels:
        raise BadRequestData(f"invalid {field}: bad scope {pattern!r}", field=field)
    if any(level != "+" and ("+" in level or any(c.isspace() for c in level)) for level in levels):
        raise BadRequestData(f"invalid {field}: bad scope level in {pattern!r}", field=field)

    def test(scope: str) -> bool:
        parts = scope[1:].split("/") if scope.startswith("/") else None
        if parts is None or (deep and not levels and not scope[1:]):
            return False
        if len(parts) < len(levels) or (len(parts) != len(levels) and not deep):
            return False
        return all(want in ("+", have) for want, have in zip(levels, parts, strict=False))

    return test


def parse_scope_q(text: str | None, field: str = "scopeQ") -> EntityPredicate | None:
    """Compile a scopeQ expression into a predicate over stored entities (None: no filter)."""
    if text is None:
        return None
    tests: dict[str, ScopeTest] = {}

    def atom(pattern: str) -> str:
        tests[pattern] = scope_matcher(pattern, field)
        return pattern

    tree = parse_selection(text, field, atom)

    def matches(entity: dict[str, Any]) -> bool:
        scopes: Sequence[str] = entity.get("scope") or ()
        if not scopes:
            return False
        return tree.evaluate(lambda pattern: any(tests[pattern](s) for s in scopes))

    return matches
