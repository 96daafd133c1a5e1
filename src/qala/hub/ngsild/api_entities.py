"""NGSI-LD context information: entities and their attributes (``/ngsi-ld/v1/entities``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from qala.core.deps import DbSession
from qala.hub import service
from qala.hub.ngsild import attributes as ops
from qala.hub.ngsild.errors import BadRequestData, ResourceNotFound
from qala.hub.ngsild.geo import parse_geo_query
from qala.hub.ngsild.http import (
    GEO_JSON,
    Body,
    ReadCity,
    WriteCity,
    accepted,
    parse_options,
    respond,
    term_map_for,
    view_for,
)
from qala.hub.ngsild.model import (
    check_uri,
    now_iso,
    parse_attributes,
    parse_entity,
    parse_instance,
)
from qala.hub.ngsild.query import parse_q, parse_type_selection
from qala.hub.ngsild.render import render_entity, render_feature
from qala.hub.runtime import hub_of

router = APIRouter(tags=["NGSI-LD entities"])
MAX_LIMIT = 1000


def _body_object(body: Any, what: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestData(f"the {what} must be a JSON object", field="body")
    return body


def _entity_id(entity_id: str) -> str:
    return check_uri(entity_id, "entityId")


@router.post("/entities", status_code=201)
def post_entity(request: Request, body: Body, db: DbSession, city: WriteCity) -> Response:
    """Create an entity."""
    terms = term_map_for(request, body)
    entity = parse_entity(_body_object(body), terms)
    service.create_entity(hub_of(request), db, city.id, entity)
    location = f"/ngsi-ld/v1/entities/{entity['id']}"
    return Response(status_code=201, headers={"Location": location})


@router.get("/entities")
def list_entities(request: Request, db: DbSession, city: ReadCity) -> Response:
    """Query entities by id, idPattern, type, attrs, q and geo-query."""
    terms = term_map_for(request)
    options = parse_options(request)
    media = accepted(request)
    spec = entity_query(request, terms)
    entities, total = service.query_entities(db, city.id, spec)
    view = view_for(request, terms, options)
    headers = {"NGSILD-Results-Count": str(total)} if options.count else {}
    if media == GEO_JSON:
        geometry = terms.expand(request.query_params.get("geometryProperty", "location"))
        features = [render_feature(entity, view, geometry) for entity in entities]
        return respond(request, {"type": "FeatureCollection", "features": features}, terms,
                       media=GEO_JSON, headers=headers)
    rendered = [render_entity(entity, view) for entity in entities]
    return respond(request, rendered, terms, media=media, headers=headers)


def entity_query(request: Request, terms: Any, source: Any = None) -> service.EntityQuery:
    """Read the query parameters (or a POST /entityOperations/query body) into a query."""
    params = source if source is not None else request.query_params
    ids = tuple(part for part in (params.get("id") or "").split(",") if part)
    for entity_id in ids:
        check_uri(entity_id, "id")
    type_text, q_text = params.get("type"), params.get("q")
    attrs = tuple(terms.expand(a) for a in (params.get("attrs") or "").split(",") if a)
    georel = params.get("georel")
    if not (ids or params.get("idPattern") or type_text or attrs or q_text or georel
            or params.get("local") == "true"):
        raise BadRequestData(
            "give at least one of id, idPattern, type, attrs, q or a geo-query", field="type"
        )
    types, candidates = parse_type_selection(type_text, terms) if type_text else (None, None)
    geo = bbox = None
    if georel:
        geo, bbox = parse_geo_query(
            georel, params.get("geometry") or "", params.get("coordinates"),
            params.get("geoproperty"), terms,
        )
    limit, offset = _int(params, "limit", 20), _int(params, "offset", 0)
    if limit > MAX_LIMIT:
        from qala.hub.ngsild.errors import TooManyResults

        raise TooManyResults(f"limit may be at most {MAX_LIMIT}", field="limit")
    return service.EntityQuery(
        ids=ids,
        id_pattern=params.get("idPattern"),
        types=types,
        type_candidates=candidates,
        attrs=attrs,
        q=parse_q(q_text, terms) if q_text else None,
        geo=geo,
        bbox=bbox,
        limit=limit,
        offset=offset,
    )


def _int(params: Any, key: str, default: int) -> int:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadRequestData(f"{key} must be a whole number", field=key) from None
    if value < 0 or (key == "limit" and value == 0 and params.get("count") != "true"):
        raise BadRequestData(f"{key} is out of range", field=key)
    return value


@router.get("/entities/{entity_id:path}/attrs/{attr}")
def get_attribute(entity_id: str, attr: str, request: Request, db: DbSession,
                  city: ReadCity) -> Response:
    """One attribute of an entity (not in the core spec; convenient for dashboards)."""
    terms = term_map_for(request)
    entity = service.get_entity(db, city.id, _entity_id(entity_id))
    iri = terms.expand(attr)
    if iri not in entity["attrs"]:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}", field="attrId")
    view = view_for(request, terms, parse_options(request))
    body = render_entity({**entity, "attrs": {iri: entity["attrs"][iri]}}, view)
    return respond(request, body[attr] if attr in body else body, terms)


@router.get("/entities/{entity_id:path}")
def get_entity(entity_id: str, request: Request, db: DbSession, city: ReadCity) -> Response:
    """Retrieve an entity."""
    terms = term_map_for(request)
    options = parse_options(request)
    media = accepted(request)
    entity = service.get_entity(db, city.id, _entity_id(entity_id))
    view = view_for(request, terms, options)
    if media == GEO_JSON:
        geometry = terms.expand(request.query_params.get("geometryProperty", "location"))
        return respond(request, render_feature(entity, view, geometry), terms, media=GEO_JSON)
    return respond(request, render_entity(entity, view), terms, media=media)


@router.delete("/entities/{entity_id:path}/attrs/{attr}", status_code=204)
def delete_attribute(entity_id: str, attr: str, request: Request, db: DbSession,
                     city: WriteCity) -> Response:
    """Delete an attribute (the default instance, one datasetId, or all with deleteAll)."""
    terms = term_map_for(request)
    iri = terms.expand(attr)
    dataset = request.query_params.get("datasetId")
    delete_all = request.query_params.get("deleteAll", "false") == "true"
    done = service.modify_entity(
        hub_of(request), db, city.id, _entity_id(entity_id),
        lambda e: ops.delete_attribute(e, iri, dataset, delete_all=delete_all, stamp=now_iso()),
    )
    if not done:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}", field="attrId")
    return Response(status_code=204)


@router.patch("/entities/{entity_id:path}/attrs/{attr}", status_code=204)
def patch_attribute(entity_id: str, attr: str, request: Request, body: Body, db: DbSession,
                    city: WriteCity) -> Response:
    """Partially update one attribute."""
    terms = term_map_for(request, body)
    fragment = _body_object(body)
    fragment = {k: v for k, v in fragment.items() if k != "@context"}
    stamp = now_iso()
    parsed = _partial_instance(attr, fragment, terms, stamp)
    iri = terms.expand(attr)
    done = service.modify_entity(
        hub_of(request), db, city.id, _entity_id(entity_id),
        lambda e: ops.patch_attribute(e, iri, parsed, stamp),
    )
    if not done:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}", field="attrId")
    return Response(status_code=204)


def _partial_instance(attr: str, fragment: dict[str, Any], terms: Any, stamp: str) -> dict[str, Any]:
    """A partial attribute: only the members given (type inferred only when a value is given)."""
    if not fragment:
        raise BadRequestData("nothing to update", field="body")
    has_value = {"value", "object", "languageMap", "valueList"} & fragment.keys()
    if has_value:
        parsed = parse_instance(attr, fragment, terms, stamp=stamp)
        if "type" not in fragment:
            parsed.pop("type", None)
        parsed.pop("createdAt", None)
        return parsed
    parsed = parse_instance(attr, {**fragment, "value": 0}, terms, stamp=stamp)
    for key in ("value", "type", "createdAt"):
        parsed.pop(key, None)
    return parsed


@router.put("/entities/{entity_id:path}/attrs/{attr}", status_code=204)
def put_attribute(entity_id: str, attr: str, request: Request, body: Body, db: DbSession,
                  city: WriteCity) -> Response:
    """Replace one attribute."""
    terms = term_map_for(request, body)
    fragment = {k: v for k, v in _body_object(body).items() if k != "@context"}
    attrs = parse_attributes({attr: fragment}, terms, stamp=now_iso())
    outcome = service.modify_entity(
        hub_of(request), db, city.id, _entity_id(entity_id),
        lambda e: ops.update_attributes(e, attrs, now_iso()),
    )
    assert isinstance(outcome, ops.Outcome)
    if not outcome.changed:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}", field="attrId")
    return Response(status_code=204)


def _partial_result(outcome: ops.Outcome, terms: Any, request: Request) -> Response:
    if not outcome.not_updated:
        return Response(status_code=204)
    body = {
        "updated": [terms.compact(iri) for iri in outcome.updated],
        "notUpdated": [
            {"attributeName": terms.compact(iri), "reason": reason}
            for iri, reason in outcome.not_updated
        ],
    }
    return Response(json.dumps(body), status_code=207, media_type="application/json")


@router.post("/entities/{entity_id:path}/attrs", status_code=204)
def post_attributes(entity_id: str, request: Request, body: Body, db: DbSession,
                    city: WriteCity) -> Response:
    """Append attributes (replace existing ones unless options=noOverwrite)."""
    terms = term_map_for(request, body)
    stamp = now_iso()
    attrs = parse_attributes(_body_object(body), terms, stamp=stamp)
    overwrite = not parse_options(request).no_overwrite
    outcome = service.modify_entity(
        hub_of(request), db, city.id, _entity_id(entity_id),
        lambda e: ops.append_attributes(e, attrs, stamp, overwrite=overwrite),
    )
    assert isinstance(outcome, ops.Outcome)
    return _partial_result(outcome, terms, request)


@router.patch("/entities/{entity_id:path}/attrs", status_code=204)
def patch_attributes(entity_id: str, request: Request, body: Body, db: DbSession,
                     city: WriteCity) -> Response:
    """Update existing attributes."""
    terms = term_map_for(request, body)
    stamp = now_iso()
    attrs = parse_attributes(_body_object(body), terms, stamp=stamp)
    outcome = service.modify_entity(
        hub_of(request), db, city.id, _entity_id(entity_id),
        lambda e: ops.update_attributes(e, attrs, stamp),
    )
    assert isinstance(outcome, ops.Outcome)
    return _partial_result(outcome, terms, request)


@router.put("/entities/{entity_id:path}", status_code=204)
def put_entity(entity_id: str, request: Request, body: Body, db: DbSession,
               city: WriteCity) -> Response:
    """Replace an entity (keeps its id and creation time)."""
    terms = term_map_for(request, body)
    fragment = {**_body_object(body), "id": _entity_id(entity_id)}
    if fragment.get("id") != entity_id:
        raise BadRequestData("the body's id differs from the URL", field="id")
    new = parse_entity(fragment, terms)
    service.modify_entity(hub_of(request), db, city.id, entity_id,
                          lambda e: ops.replace_entity(e, new, new["modifiedAt"]))
    return Response(status_code=204)


@router.patch("/entities/{entity_id:path}", status_code=204)
def merge_entity(entity_id: str, request: Request, body: Body, db: DbSession,
                 city: WriteCity) -> Response:
    """Merge a fragment into an entity (null deletes an attribute)."""
    terms = term_map_for(request, body)
    fragment = _body_object(body)
    if "id" in fragment and fragment["id"] != entity_id:
        raise BadRequestData("the body's id differs from the URL", field="id")
    deleted = [terms.expand(k) for k, v in fragment.items() if v is None or v == "urn:ngsi-ld:null"]
    kept = {k: v for k, v in fragment.items() if v is not None and v != "urn:ngsi-ld:null"}
    stamp = now_iso()
    patch = {
        "type": _types(kept, terms),
        "attrs": parse_attributes(kept, terms, stamp=stamp),
    }
    service.modify_entity(hub_of(request), db, city.id, _entity_id(entity_id),
                          lambda e: ops.merge_entity(e, patch, deleted, stamp))
    return Response(status_code=204)


def _types(fragment: dict[str, Any], terms: Any) -> list[str]:
    from qala.hub.ngsild.model import parse_types

    return parse_types(fragment["type"], terms) if "type" in fragment else []


@router.delete("/entities/{entity_id:path}", status_code=204)
def delete_entity(entity_id: str, request: Request, db: DbSession, city: WriteCity) -> Response:
    """Delete an entity."""
    service.delete_entity(hub_of(request), db, city.id, _entity_id(entity_id))
    return Response(status_code=204)
