"""The NGSI-LD query languages: entity type selection and ``q`` (ETSI GS CIM 009 §4.9, §4.17)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData

EntityPredicate = Callable[[dict[str, Any]], bool]


def parse_type_selection(text: str, terms: TermMap) -> tuple[EntityPredicate, tuple[str, ...]]:
    """``type=A,B`` (either): a predicate over an entity and the IRIs to pre-filter on."""
    names = [part.strip() for part in text.split(",")]
    if not all(names):
        raise BadRequestData(f"invalid type selection {text!r}", field="type")
    iris = tuple(terms.expand(name) for name in names)
    wanted = set(iris)
    return (lambda entity: bool(wanted & set(entity["type"]))), iris


def parse_q(text: str, terms: TermMap) -> EntityPredicate:
    """Compile a ``q`` expression into a predicate over stored entities."""
    raise BadRequestData("q is not supported yet", field="q")
