"""The NGSI-LD temporal API (``/ngsi-ld/v1/temporal/...``, ETSI GS CIM 009 §6.18-6.22):
create, extend, retrieve, query and delete the temporal evolution of entities."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from qala.core.deps import DbSession
from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import AlreadyExists, BadRequestData, ResourceNotFound
from qala.hub.ngsild.http import Body, ReadCity, WriteCity, accepted, respond, term_map_for
from qala.hub.ngsild.listing import entity_query
from qala.hub.ngsild.model import check_uri, format_time, now_iso, parse_instance, parse_time
from qala.hub.ngsild.render import View
from qala.hub.runtime import hub_of
from qala.hub.temporal import service, store
from qala.hub.temporal.history import (
    TemporalBody,
    parse_attribute_instances,
    parse_temporal_entity,
)
from qala.hub.temporal.models import KIND_MODIFIED, KIND_OBSERVED
from qala.hub.temporal.query import parse_representation, parse_temporal_query
from qala.hub.temporal.representation import select_members

router = APIRouter(tags=["NGSI-LD temporal"])
VALUE_MEMBERS = ("value", "object", "languageMap", "valueList", "objectList")
SELECTIVE = ("type", "attrs", "q", "georel", "geometry", "coordinates", "scopeQ")


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object", field="body")
    return body


def _names(params: Any, key: str) -> list[str] | None:
    raw = params.get(key)
    if raw is None:
        return None
    names = raw if isinstance(raw, list) else str(raw).split(",")
    cleaned = [str(name).strip() for name in names if str(name).strip()]
    if not cleaned:
        raise BadRequestData(f"{key} is empty", field=key)
    return cleaned


def _temporal_request(
    request: Request, terms: TermMap, params: Any, temporal: Any
) -> service.TemporalRequest:
    query = parse_temporal_query(temporal)
    form = parse_representation(
        request.query_params.getlist("options"),
        params.get("format"),
        temporal.get("aggrMethods"),
        temporal.get("aggrPeriodDuration"),
    )
    attrs = _names(params, "attrs")
    datasets = _names(params, "datasetId")
    view = View(terms=terms, sys_attrs=form.sys_attrs, lang=params.get("lang"))
    return service.TemporalRequest(
        query=query,
        representation=form,
        view=view,
        attrs=frozenset(terms.expand(a) for a in attrs) if attrs is not None else None,
        datasets=frozenset("" if d == "@none" else d for d in datasets) if datasets else None,
    )


def _picked(bodies: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
    pick, omit = _names(params, "pick"), _names(params, "omit")
    return [select_members(body, pick, omit) for body in bodies]


@router.post("/temporal/entities", status_code=201)
def post_temporal_entity(request: Request, body: Body, db: DbSession, city: WriteCity) -> Response:
    """Create a temporal entity (201), or add instances to an existing one (204)."""
    terms = term_map_for(request, body)
    stamp = now_iso()
    parsed = parse_temporal_entity(body, terms, stamp)
    if service.create_or_append(hub_of(request), db, city.id, parsed, stamp):
        location = f"/ngsi-ld/v1/temporal/entities/{parsed.entity_id}"
        return Response(status_code=201, headers={"Location": location})
    return Response(status_code=204)


@router.get("/temporal/entities")
def query_temporal_entities(request: Request, db: DbSession, city: ReadCity) -> Response:
    """Query the temporal evolution of entities (id, type, idPattern, attrs, q, geo-query)."""
    terms = term_map_for(request)
    params = request.query_params
    return _query(request, db, city.id, terms, params, params)


def _query(
    request: Request, db: DbSession, city_id: int, terms: TermMap, params: Any, temporal: Any
) -> Response:
    media = accepted(request, geo=False)
    if not any(params.get(key) for key in SELECTIVE):  # §5.7.4: ids alone are not enough
        raise BadRequestData("a temporal query needs type, attrs, q or a geo-query", field="type")
    spec = entity_query(request, terms, params)
    wanted = _temporal_request(request, terms, params, temporal)
    found, total = service.query_entities(db, city_id, spec, wanted)
    bodies = _picked(service.render_entities(db, city_id, found, wanted), params)
    count = str(params.get("count", "false")).lower() == "true"
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return respond(request, bodies, terms, media=media, headers=headers)


def _query_params(request: Request, body: dict[str, Any]) -> dict[str, Any]:
    """A Query body (§5.2.23) as the URL parameters of GET /temporal/entities."""
    params: dict[str, Any] = dict(request.query_params)
    selectors = body.get("entities") or []
    if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
        raise BadRequestData("entities must be an array of EntitySelector", field="entities")
    ids = [s["id"] for s in selectors if isinstance(s.get("id"), str)]
    types = [s["type"] for s in selectors if isinstance(s.get("type"), str)]
    patterns = [s["idPattern"] for s in selectors if isinstance(s.get("idPattern"), str)]
    for key, values in (("id", ids), ("type", types)):
        if values:
            params[key] = ",".join(values)
    if patterns:
        params["idPattern"] = patterns[0]
    for key in ("attrs", "pick", "omit"):
        if key in body:
            value = body[key]
            params[key] = ",".join(value) if isinstance(value, list) else value
    for key in ("q", "scopeQ", "lang", "datasetId"):
        if key in body:
            params[key] = body[key]
    geo = body.get("geoQ")
    if isinstance(geo, dict):
        params.update({k: geo[k] for k in ("georel", "geometry", "geoproperty") if k in geo})
        if "coordinates" in geo:
            coordinates = geo["coordinates"]
            params["coordinates"] = (
                coordinates if isinstance(coordinates, str) else json.dumps(coordinates)
            )
    return params


@router.post("/temporal/entityOperations/query")
def query_temporal_post(request: Request, body: Body, db: DbSession, city: ReadCity) -> Response:
    """Query the temporal evolution of entities with a Query body (``temporalQ`` inside)."""
    terms = term_map_for(request, body)
    query_body = _object(body)
    if query_body.get("type", "Query") != "Query":
        raise BadRequestData("the body's type must be Query", field="type")
    temporal = query_body.get("temporalQ") or {}
    if not isinstance(temporal, dict):
        raise BadRequestData("temporalQ must be an object", field="temporalQ")
    params = _query_params(request, query_body)
    return _query(request, db, city.id, terms, params, {**dict(request.query_params), **temporal})


def _entity_id(entity_id: str) -> str:
    return check_uri(entity_id, "entityId")


@router.get("/temporal/entities/{entity_id:path}")
def get_temporal_entity(
    entity_id: str, request: Request, db: DbSession, city: ReadCity
) -> Response:
    """The temporal evolution of one entity."""
    terms = term_map_for(request)
    params = request.query_params
    media = accepted(request, geo=False)
    wanted = _temporal_request(request, terms, params, params)
    found = service.require_entity(db, city.id, _entity_id(entity_id))
    service.require_attributes(db, city.id, found, wanted.attrs)
    (body,) = _picked(service.render_entities(db, city.id, [found], wanted), params)
    return respond(request, body, terms, media=media)


@router.post("/temporal/entities/{entity_id:path}/attrs", status_code=204)
def post_temporal_attributes(
    entity_id: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Add attribute instances to a temporal entity."""
    terms = term_map_for(request, body)
    instances = parse_attribute_instances(_object(body), terms, now_iso())
    if not instances:
        raise BadRequestData("no attribute instances to add", field="body")
    service.append_instances(db, city.id, TemporalBody(_entity_id(entity_id), [], None, instances))
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id:path}/attrs/{attr}/{instance_id}", status_code=204)
def delete_temporal_instance(
    entity_id: str, attr: str, instance_id: str, request: Request, db: DbSession, city: WriteCity
) -> Response:
    """Delete one attribute instance from an entity's history."""
    terms = term_map_for(request)
    service.require_entity(db, city.id, _entity_id(entity_id))
    row = store.find_instance(db, city.id, entity_id, terms.expand(attr), instance_id)
    if row is None:
        raise ResourceNotFound(f"no instance {instance_id} of {attr}", field="instanceId")
    store.delete_instance(db, city.id, row)
    return Response(status_code=204)


@router.patch("/temporal/entities/{entity_id:path}/attrs/{attr}/{instance_id}", status_code=204)
def patch_temporal_instance(
    entity_id: str,
    attr: str,
    instance_id: str,
    request: Request,
    body: Body,
    db: DbSession,
    city: WriteCity,
) -> Response:
    """Modify one attribute instance in an entity's history."""
    terms = term_map_for(request, body)
    fragment = {k: v for k, v in _object(body).items() if k != "@context"}
    service.require_entity(db, city.id, _entity_id(entity_id))
    row = store.find_instance(db, city.id, entity_id, terms.expand(attr), instance_id)
    if row is None:
        raise ResourceNotFound(f"no instance {instance_id} of {attr}", field="instanceId")
    stamp = now_iso()
    given = VALUE_MEMBERS if set(VALUE_MEMBERS) & fragment.keys() else ()
    parsed = parse_instance(
        attr, fragment if given else {**fragment, "value": 0}, terms, stamp=stamp
    )
    instance = row.instance()
    if given:
        for member in VALUE_MEMBERS:
            instance.pop(member, None)
    elif "type" not in fragment:
        parsed.pop("type")
    for member, value in parsed.items():
        if member == "sub":
            instance["sub"] = {**instance.get("sub", {}), **value}
        elif member not in ("createdAt", "modifiedAt") and (given or member != "value"):
            instance[member] = value
    observed = parsed.get("observedAt")
    at = parse_time(observed, "observedAt") if observed else row.observed_at
    kind = KIND_OBSERVED if observed or row.has_observed_at else KIND_MODIFIED
    instance.pop("observedAt", None)
    if not store.replace_instance(db, city.id, row, instance, at, kind):
        raise AlreadyExists(
            f"another instance of {attr} is observed at {format_time(at)}", field="observedAt"
        )
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id:path}/attrs/{attr}", status_code=204)
def delete_temporal_attribute(
    entity_id: str, attr: str, request: Request, db: DbSession, city: WriteCity
) -> Response:
    """Delete an attribute's history (default instance, one datasetId, or all)."""
    terms = term_map_for(request)
    service.require_entity(db, city.id, _entity_id(entity_id))
    params = request.query_params
    delete_all = params.get("deleteAll", "false").lower() == "true"
    removed = store.delete_attribute(
        db, city.id, entity_id, terms.expand(attr), params.get("datasetId"), delete_all=delete_all
    )
    if not removed:
        raise ResourceNotFound(f"entity {entity_id} has no history of {attr}", field="attrId")
    return Response(status_code=204)


@router.delete("/temporal/entities/{entity_id:path}", status_code=204)
def delete_temporal_entity(entity_id: str, db: DbSession, city: WriteCity) -> Response:
    """Delete the temporal evolution of an entity (its current state is left alone)."""
    if not store.delete_entity(db, city.id, _entity_id(entity_id)):
        raise ResourceNotFound(f"no temporal entity {entity_id}", field="entityId")
    return Response(status_code=204)
