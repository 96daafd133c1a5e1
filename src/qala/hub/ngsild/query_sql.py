"""SQL pre-filters for ``q``: a NECESSARY condition the database checks before Python does.

The compiled Python predicate stays the judge; the pre-filter only has to keep every entity the
predicate could accept, so it may be looser but never stricter. On PostgreSQL a term becomes a
``jsonb_path_exists`` over the JSONB document, on SQLite an ``EXISTS`` over ``json_each``;
other databases get no pre-filter. Pushed down: ``==`` on numbers, strings, URIs and booleans
(lists and number ranges too) and ordering on numbers, for top-level attribute values; every
other positive term becomes "the attribute is present"; ``!attr`` is not pushed down."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, and_, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.query import EntityPredicate, Logic, Node, Term, parse_q_tree
from qala.hub.ngsild.query_match import compile_query

_SAFE_IRI = re.compile(r'[^"\\\x00-\x1f]+')
_LOOKS_LIKE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T")
_SQL_OPS = {"==": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


@dataclass(frozen=True)
class Condition:
    """What one term asks of an attribute: presence, or a comparison on its value."""

    iri: str
    kind: str = "exists"  # exists | number | string | bool
    op: str = "=="  # == > >= < <= or "range"
    values: tuple[Any, ...] = ()


class AttributeFilter(ColumnElement[bool]):
    """A necessary condition on one attribute of the ``data`` document, compiled per dialect."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, column: Any, condition: Condition) -> None:
        self.column = column
        self.condition = condition


def q_prefilter(node: Node, column: Any) -> ColumnElement[bool] | None:
    """The pre-filter of a ``q`` tree over ``column`` (the JSON document), or None."""
    if isinstance(node, Logic):
        parts = [q_prefilter(child, column) for child in node.children]
        kept = [part for part in parts if part is not None]
        if node.op == "and":
            return and_(*kept) if kept else None
        return or_(*kept) if kept and len(kept) == len(parts) else None
    condition = term_condition(node)
    return AttributeFilter(column, condition) if condition is not None else None


def term_condition(term: Term) -> Condition | None:
    """The condition of one term (None: nothing can be required)."""
    iri = term.path.attr
    if term.negated or not _SAFE_IRI.fullmatch(iri):
        return None
    plain = not (term.path.subs or term.path.member or term.path.trail)
    compared = _comparison(term) if plain and term.op in _SQL_OPS else None
    if compared is None:
        return Condition(iri)
    kind, op, values = compared
    return Condition(iri, kind, op, values)


def _comparison(term: Term) -> tuple[str, str, tuple[Any, ...]] | None:
    """(kind, op, values) of a comparison the database can check, or None."""
    if term.low_high is not None:
        low, high = term.low_high
        usable = term.op == "==" and low.kind == "number"
        return ("number", "range", (low.value, high.value)) if usable else None
    kinds = {value.kind for value in term.values}
    values = tuple(value.value for value in term.values)
    assert term.op is not None
    if kinds == {"number"} and (term.op == "==" or len(values) == 1):
        return "number", term.op, values
    if term.op != "==":
        return None
    if kinds <= {"string", "uri"} and not any(_LOOKS_LIKE_TIME.match(v) for v in values):
        return "string", "==", values
    return ("bool", "==", values) if kinds == {"bool"} else None


def _jsonpath_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def jsonpath(condition: Condition) -> str:
    """The PostgreSQL jsonpath of a condition."""
    head = f'$.attrs."{condition.iri}"'
    if condition.kind == "exists":
        return head
    if condition.op == "range":
        low, high = (_jsonpath_literal(v) for v in condition.values)
        tests = [f"({member} >= {low} && {member} <= {high})" for member in _members("number")]
    else:
        op = "==" if condition.op == "==" else condition.op
        tests = [
            f"{member} {op} {_jsonpath_literal(value)}"
            for value in condition.values
            for member in _members(condition.kind)
        ]
    return f"{head}[*] ? ({' || '.join(tests)})"


def _members(kind: str) -> tuple[str, ...]:
    """Where a value of ``kind`` may sit in an instance (lax mode unwraps arrays)."""
    typed = ("@.value", "@.valueList", '@.value."@value"')
    if kind == "string":
        return (*typed, "@.object", "@.languageMap.*")
    return typed


@compiles(AttributeFilter)
def _compile_default(element: AttributeFilter, compiler: SQLCompiler, **kw: Any) -> str:
    return "1 = 1"


@compiles(AttributeFilter, "postgresql")
def _compile_postgresql(element: AttributeFilter, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    path = compiler.process(literal(jsonpath(element.condition)), **kw)
    return f"jsonb_path_exists({column}, CAST({path} AS jsonpath))"


@compiles(AttributeFilter, "sqlite")
def _compile_sqlite(element: AttributeFilter, compiler: SQLCompiler, **kw: Any) -> str:
    condition = element.condition
    column = compiler.process(element.column, **kw)
    path = compiler.process(literal(f'$.attrs."{condition.iri}"'), **kw)
    if condition.kind == "exists":
        return f"json_type({column}, {path}) IS NOT NULL"
    value_type = "json_type(qi.value, '$.value')"
    value = "json_extract(qi.value, '$.value')"
    loose = f"{value_type} IS NULL OR {value_type} IN ('array', 'object')"
    if condition.kind == "bool":
        tests = [f"{value_type} = '{'true' if v else 'false'}'" for v in condition.values]
    elif condition.kind == "string":
        tests = [f"{value} = {compiler.process(literal(v), **kw)}" for v in condition.values]
    else:
        number = f"{value_type} IN ('integer', 'real')"
        if condition.op == "range":
            low, high = (compiler.process(literal(v), **kw) for v in condition.values)
            tests = [f"({number} AND {value} BETWEEN {low} AND {high})"]
        else:
            op = _SQL_OPS[condition.op]
            tests = [
                f"({number} AND {value} {op} {compiler.process(literal(v), **kw)})"
                for v in condition.values
            ]
    where = " OR ".join([*tests, loose])
    # every value above is a bound parameter or a constant of this module
    return f"EXISTS (SELECT 1 FROM json_each({column}, {path}) AS qi WHERE {where})"  # noqa: S608


def parse_q_for_query(
    text: str, terms: TermMap
) -> tuple[EntityPredicate, tuple[ColumnElement[bool], ...]]:
    """Compile ``q`` once into the exact predicate and its SQL pre-filter over hub_entities."""
    from qala.hub.models import HubEntity

    tree = parse_q_tree(text, terms)
    prefilter = q_prefilter(tree, HubEntity.data)
    return compile_query(tree), (prefilter,) if prefilter is not None else ()
