"""NGSI-LD discovery (``/types``, ``/attributes``): the entity types and attributes a city's
entities use, named under the request's @context."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from qala.core.deps import DbSession
from qala.hub import service
from qala.hub.ngsild import discovery
from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData, ResourceNotFound
from qala.hub.ngsild.http import ReadCity, accepted, check_params, respond, term_map_for

router = APIRouter(tags=["NGSI-LD discovery"])
LIST_PARAMS = frozenset({"details", "local", "count"})
ONE_PARAMS = frozenset({"local"})


def _details(request: Request) -> bool:
    raw = request.query_params.get("details", "false").lower()
    if raw not in ("true", "false"):
        raise BadRequestData("details must be true or false", field="details")
    return raw == "true"


def _answer(request: Request, content: Any, terms: TermMap) -> Response:
    return respond(request, content, terms, media=accepted(request, geo=False))


def _name(raw: str, what: str) -> str:
    if not raw.strip():
        raise BadRequestData(f"give the {what} name", field=what)
    return raw


@router.get("/types")
def list_types(request: Request, db: DbSession, city: ReadCity) -> Response:
    """The entity types of the city (``details=true``: with their attribute names)."""
    check_params(request, LIST_PARAMS)
    terms = term_map_for(request)
    accepted(request, geo=False)
    if _details(request):
        found = discovery.catalog(service.iter_entities(db, city.id))
        return _answer(request, discovery.entity_types(found, terms), terms)
    type_iris = [iri for iri, _count in service.entity_types(db, city.id)]
    return _answer(request, discovery.entity_type_list(type_iris, terms), terms)


@router.get("/types/{type_name:path}")
def get_type(type_name: str, request: Request, db: DbSession, city: ReadCity) -> Response:
    """One entity type: how many entities have it and the details of their attributes."""
    check_params(request, ONE_PARAMS)
    terms = term_map_for(request)
    accepted(request, geo=False)
    iri = terms.expand(_name(type_name, "type"))
    found = discovery.catalog(service.iter_entities(db, city.id, types=[iri]))
    info = found.types.get(iri)
    if info is None:
        raise ResourceNotFound(f"no entity has the type {type_name}", field="type")
    return _answer(request, discovery.entity_type_info(iri, info, terms), terms)


@router.get("/attributes")
def list_attributes(request: Request, db: DbSession, city: ReadCity) -> Response:
    """The attributes the city's entities have (``details=true``: with their entity types)."""
    check_params(request, LIST_PARAMS)
    terms = term_map_for(request)
    accepted(request, geo=False)
    details = _details(request)
    found = discovery.catalog(service.iter_entities(db, city.id))
    if details:
        return _answer(request, discovery.attributes(found, terms), terms)
    return _answer(request, discovery.attribute_list(found, terms), terms)


@router.get("/attributes/{attribute:path}")
def get_attribute(attribute: str, request: Request, db: DbSession, city: ReadCity) -> Response:
    """One attribute: how many instances, of which attribute types, on which entity types."""
    check_params(request, ONE_PARAMS)
    terms = term_map_for(request)
    accepted(request, geo=False)
    iri = terms.expand(_name(attribute, "attribute"))
    found = discovery.catalog(service.iter_entities(db, city.id))
    info = found.attributes.get(iri)
    if info is None:
        raise ResourceNotFound(f"no entity has the attribute {attribute}", field="attrId")
    return _answer(request, discovery.attribute_info(iri, info, terms), terms)
