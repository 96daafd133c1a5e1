"""Compile a ``q`` syntax tree into predicates over stored entities (ETSI GS CIM 009 §4.9).

Semantics: a multi-instance attribute matches when ANY instance matches; an array value
matches when any element does; a LanguageProperty compares against its languageMap values
(``name[kk]`` picks one language); a Relationship compares its object(s) and never matches an
ordering operator; values of different types never match (and are "unequal" for ``!=``)."""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterator
from typing import Any

from qala.hub.ngsild.query import Literal, Logic, Node, Path, Term, as_utc

Entity = dict[str, Any]
EntityPredicate = Callable[[Entity], bool]
#: A target value and whether it is a Relationship's object.
Target = tuple[Any, bool]
ValueTest = Callable[[Any], bool]

_MISSING = object()
_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?$")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def compile_query(node: Node) -> EntityPredicate:
    """A predicate for a whole expression."""
    if isinstance(node, Logic):
        parts = [compile_query(child) for child in node.children]
        if node.op == "and":
            if len(parts) == 2:
                first, second = parts
                return lambda entity: first(entity) and second(entity)
            return lambda entity: all(part(entity) for part in parts)
        if len(parts) == 2:
            first, second = parts
            return lambda entity: first(entity) or second(entity)
        return lambda entity: any(part(entity) for part in parts)
    return compile_term(node)


def compile_term(term: Term) -> EntityPredicate:
    """A predicate for one term."""
    targets = target_reader(term.path)
    if term.op is None:
        if term.negated:
            return lambda entity: next(targets(entity), None) is None
        return lambda entity: next(targets(entity), None) is not None
    if term.op in ("~=", "!~="):
        assert term.pattern is not None
        return _pattern_predicate(targets, term.pattern, term.op == "!~=")
    if term.op in _COMPARE:
        test = _ordering_test(term.op, term.values[0])
        return lambda entity: any(
            not rel and _any_item(value, test) for value, rel in targets(entity)
        )
    equal = _range_test(*term.low_high) if term.low_high else _equality_test(term.values)
    if term.op == "==":
        return lambda entity: any(_any_item(value, equal) for value, _rel in targets(entity))
    return lambda entity: _unequal(targets(entity), equal)


def _unequal(found: Iterator[Target], equal: ValueTest) -> bool:
    seen = False
    for value, _rel in found:
        seen = True
        if _any_item(value, equal):
            return False
    return seen


def _any_item(value: Any, test: ValueTest) -> bool:
    if isinstance(value, list):
        return any(test(item) for item in value)
    return test(value)


def _pattern_predicate(
    targets: Callable[[Entity], Iterator[Target]], pattern: re.Pattern[str], negate: bool
) -> EntityPredicate:
    def strings(entity: Entity) -> Iterator[str]:
        for value, _rel in targets(entity):
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, str):
                    yield item

    if negate:

        def not_matching(entity: Entity) -> bool:
            texts = list(strings(entity))
            return bool(texts) and not any(pattern.search(text) for text in texts)

        return not_matching
    return lambda entity: any(pattern.search(text) for text in strings(entity))


# -- where the targets are -------------------------------------------------------------------


def target_reader(path: Path) -> Callable[[Entity], Iterator[Target]]:
    """A function giving the target values a path designates in an entity (none: absent)."""
    attr, subs, member, trail = path.attr, path.subs, path.member, path.trail

    def read(entity: Entity) -> Iterator[Target]:
        instances = entity["attrs"].get(attr)
        if not instances:
            return
        for top in instances:
            instance = top
            for sub in subs:
                instance = instance.get("sub", {}).get(sub)
                if instance is None:
                    break
            else:
                if member is not None:
                    found = instance.get(member)
                    if found is not None:
                        yield found, False
                    continue
                yield from _instance_targets(instance, trail)

    return read


def _instance_targets(instance: dict[str, Any], trail: tuple[str, ...]) -> Iterator[Target]:
    kind = instance.get("type")
    if kind == "Relationship":
        if not trail and "object" in instance:
            yield instance["object"], True
        return
    if kind == "LanguageProperty":
        language_map = instance.get("languageMap") or {}
        if not trail or trail[0] == "*":
            for text in language_map.values():
                yield text, False
        elif trail[0] in language_map:
            yield language_map[trail[0]], False
        return
    value = (
        instance.get("valueList", _MISSING)
        if kind == "ListProperty"
        else instance.get("value", _MISSING)
    )
    for member in trail:
        value = _member(value, member)
    if value is _MISSING:
        return
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    yield value, False


def _member(value: Any, member: str) -> Any:
    """ECMA-262 member access into a compound value; ``_MISSING`` when undefined."""
    if isinstance(value, dict):
        return value.get(member, _MISSING)
    if isinstance(value, list) and member.isdigit() and int(member) < len(value):
        return value[int(member)]
    return _MISSING


# -- how values compare ----------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coerce(kind: str) -> Callable[[Any], Any]:
    """A function turning a stored value into something comparable with a literal of
    ``kind``, or ``_MISSING`` when the types differ."""
    if kind == "number":
        return lambda value: value if _is_number(value) else _MISSING
    if kind == "bool":
        return lambda value: value if isinstance(value, bool) else _MISSING
    if kind in ("string", "uri"):
        return lambda value: value if isinstance(value, str) else _MISSING
    if kind == "datetime":
        return as_datetime
    if kind == "date":
        return as_date
    return as_time


def as_datetime(value: Any) -> Any:
    """A stored date-time (ISO string or ``{"@type": "DateTime", "@value"}``), or _MISSING."""
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        try:
            return as_utc(dt.datetime.fromisoformat(value))
        except ValueError:
            return _MISSING
    return _MISSING


def as_date(value: Any) -> Any:
    """A stored date (``YYYY-MM-DD``), or _MISSING."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return _MISSING
    return _MISSING


def as_time(value: Any) -> Any:
    """A stored time of day (``hh:mm:ss``), or _MISSING."""
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            return dt.time.fromisoformat(value.rstrip("Z"))
        except ValueError:
            return _MISSING
    return _MISSING


def _equality_test(values: tuple[Literal, ...]) -> ValueTest:
    tests = [_equal_to(literal) for literal in values]
    if len(tests) == 1:
        return tests[0]
    return lambda value: any(test(value) for test in tests)


def _equal_to(literal: Literal) -> ValueTest:
    wanted, coerce = literal.value, _coerce(literal.kind)
    if literal.kind == "string":
        # a quoted date-time still compares as a time with a stored date-time
        moment = as_datetime(wanted)
        if moment is not _MISSING:
            return lambda value: value == wanted or as_datetime(value) == moment
    return lambda value: bool(coerce(value) == wanted)


def _range_test(low: Literal, high: Literal) -> ValueTest:
    coerce, first, last = _coerce(low.kind), low.value, high.value

    def within(value: Any) -> bool:
        value = coerce(value)
        return value is not _MISSING and first <= value <= last

    return within


def _ordering_test(op: str, literal: Literal) -> ValueTest:
    compare, wanted = _COMPARE[op], literal.value
    coerce = _coerce("string" if literal.kind == "uri" else literal.kind)
    if literal.kind == "string":
        moment = as_datetime(wanted)
        if moment is not _MISSING:
            coerce, wanted = as_datetime, moment

    def ordered(value: Any) -> bool:
        value = coerce(value)
        return value is not _MISSING and bool(compare(value, wanted))

    return ordered
