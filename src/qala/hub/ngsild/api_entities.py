"""NGSI-LD context information: entities and their attributes (``/ngsi-ld/v1/entities``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from qala.core.deps import DbSession
from qala.hub import service
from qala.hub.ngsild import attributes as ops
from qala.hub.ngsild import parameters
from qala.hub.ngsild.errors import BadRequestData, InvalidRequest, ResourceNotFound
from qala.hub.ngsild.fragments import is_null, parse_merge, split_nulls
from qala.hub.ngsild.http import (
    GEO_JSON,
    Body,
    ReadCity,
    WriteCity,
    accepted,
    check_params,
    parse_options,
    respond,
    term_map_for,
    view_for,
)
from qala.hub.ngsild.listing import entity_query, respond_entities
from qala.hub.ngsild.model import (
    RESERVED_ENTITY_MEMBERS,
    VALUE_MEMBERS,
    check_name,
    check_uri,
    now_iso,
    parse_attributes,
    parse_entity,
    parse_instance,
    parse_types,
)
from qala.hub.ngsild.render import render_entity, render_feature
from qala.hub.runtime import hub_of

router = APIRouter(tags=["NGSI-LD entities"])


def _body_object(body: Any, what: str = "body") -> dict[str, Any]:
    if body is None:
        raise InvalidRequest(f"the {what} is empty; send a JSON object", field="body")
    if not isinstance(body, dict):
        raise BadRequestData(f"the {what} must be a JSON object", field="body")
    return body


def _entity_id(entity_id: str) -> str:
    return check_uri(entity_id, "entityId")


def _attr_name(attr: str) -> str:
    """An attribute name from the URL: a valid name, and not an entity member (id, scope...)."""
    if attr in RESERVED_ENTITY_MEMBERS:
        raise BadRequestData(f"{attr} is an entity member, not an attribute", field="attrId")
    return check_name(attr)


@router.post("/entities", status_code=201)
def post_entity(request: Request, body: Body, db: DbSession, city: WriteCity) -> Response:
    """Create an entity."""
    check_params(request, parameters.CREATE)
    terms = term_map_for(request, body)
    entity = parse_entity(_body_object(body), terms)
    service.create_entity(hub_of(request), db, city.id, entity)
    location = f"/ngsi-ld/v1/entities/{entity['id']}"
    return Response(status_code=201, headers={"Location": location})


@router.get("/entities")
def list_entities(request: Request, db: DbSession, city: ReadCity) -> Response:
    """Query entities by id, idPattern, type, attrs, q and geo-query."""
    check_params(request, parameters.QUERY)
    terms = term_map_for(request)
    options = parse_options(request)
    media = accepted(request)
    spec = entity_query(request, terms)
    entities, total = service.query_entities(db, city.id, spec)
    view = view_for(request, terms, options)
    geometry = request.query_params.get("geometryProperty")
    return respond_entities(
        request, entities, total if options.count else None, view, media, geometry
    )


@router.get("/entities/{entity_id:path}/attrs/{attr}")
def get_attribute(
    entity_id: str, attr: str, request: Request, db: DbSession, city: ReadCity
) -> Response:
    """One attribute of an entity (not in the core spec; convenient for dashboards)."""
    check_params(request, parameters.RETRIEVE)
    terms = term_map_for(request)
    entity = service.get_entity(db, city.id, _entity_id(entity_id))
    iri = terms.expand(_attr_name(attr))
    if iri not in entity["attrs"]:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}", field="attrId")
    view = view_for(request, terms, parse_options(request))
    body = render_entity({**entity, "attrs": {iri: entity["attrs"][iri]}}, view)
    return respond(request, body.get(attr, body), terms)


@router.get("/entities/{entity_id:path}")
async def get_entity(entity_id: str, request: Request, db: DbSession, city: ReadCity) -> Response:
    """Retrieve an entity. ``async`` although it blocks on one short read: on the event loop it
    costs no thread hop (the hottest route; a query falls through to the thread pool)."""
    if not entity_id:  # ``GET /entities/?type=...`` (trailing slash) is the query
        return await run_in_threadpool(list_entities, request, db, city)
    check_params(request, parameters.RETRIEVE)
    terms = term_map_for(request)
    options = parse_options(request)
    media = accepted(request)
    entity = service.get_entity(db, city.id, _entity_id(entity_id))
    _check_type(request, entity, terms)
    view = view_for(request, terms, options)
    if media == GEO_JSON:
        geometry = terms.expand(request.query_params.get("geometryProperty", "location"))
        return respond(request, render_feature(entity, view, geometry), terms, media=GEO_JSON)
    body = render_entity(entity, view)
    if not body:  # pick/omit left nothing of it (§4.21)
        raise ResourceNotFound(f"nothing of entity {entity_id} is left to show", field="pick")
    return respond(request, body, terms, media=media)


def _check_type(request: Request, entity: dict[str, Any], terms: Any) -> None:
    """``type=`` on a retrieval: the entity must have one of those types (else it is not found)."""
    wanted = request.query_params.get("type")
    if wanted and not {terms.expand(name) for name in wanted.split(",")} & set(entity["type"]):
        raise ResourceNotFound(f"no entity {entity['id']} of type {wanted}", field="type")


@router.delete("/entities/{entity_id:path}/attrs/{attr}", status_code=204)
def delete_attribute(
    entity_id: str, attr: str, request: Request, db: DbSession, city: WriteCity
) -> Response:
    """Delete an attribute (the default instance, one datasetId, or all with deleteAll)."""
    check_params(request, parameters.ATTRIBUTE_DELETE)
    terms = term_map_for(request)
    iri = terms.expand(_attr_name(attr))
    dataset = request.query_params.get("datasetId")
    if dataset is not None:
        check_uri(dataset, "datasetId")
    delete_all = request.query_params.get("deleteAll", "false").lower()
    if delete_all not in ("true", "false"):
        raise BadRequestData("deleteAll must be true or false", field="deleteAll")
    done = service.modify_entity(
        hub_of(request),
        db,
        city.id,
        _entity_id(entity_id),
        lambda e: ops.delete_attribute(
            e, iri, dataset, delete_all=delete_all == "true", stamp=now_iso()
        ),
    )
    if not done:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}", field="attrId")
    return Response(status_code=204)


@router.patch("/entities/{entity_id:path}/attrs/{attr}", status_code=204)
def patch_attribute(
    entity_id: str, attr: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Partially update one attribute."""
    check_params(request, parameters.ATTRIBUTE_WRITE)
    terms = term_map_for(request, body)
    fragment = _body_object(body)
    fragment = {k: v for k, v in fragment.items() if k != "@context"}
    stamp = now_iso()
    iri = terms.expand(_attr_name(attr))
    if fragment and is_null(fragment):  # NGSI-LD null: delete this instance
        dataset = fragment.get("datasetId")
        done = service.modify_entity(
            hub_of(request),
            db,
            city.id,
            _entity_id(entity_id),
            lambda e: ops.delete_attribute(e, iri, dataset, delete_all=False, stamp=stamp),
        )
    else:
        parsed = _partial_instance(attr, fragment, terms, stamp)
        done = service.modify_entity(
            hub_of(request),
            db,
            city.id,
            _entity_id(entity_id),
            lambda e: ops.patch_attribute(e, iri, parsed, stamp),
        )
    if not done:
        raise ResourceNotFound(f"entity {entity_id} has no attribute {attr}", field="attrId")
    return Response(status_code=204)


def _partial_instance(
    attr: str, fragment: dict[str, Any], terms: Any, stamp: str
) -> dict[str, Any]:
    """A partial attribute: only the members given (type inferred only when a value is given)."""
    if not fragment:
        raise BadRequestData("nothing to update", field="body")
    has_value = VALUE_MEMBERS & fragment.keys()
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
def put_attribute(
    entity_id: str, attr: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Replace one attribute."""
    check_params(request, parameters.ATTRIBUTE_WRITE)
    terms = term_map_for(request, body)
    fragment = {k: v for k, v in _body_object(body).items() if k != "@context"}
    attrs = parse_attributes({_attr_name(attr): fragment}, terms, stamp=now_iso())
    outcome = service.modify_entity(
        hub_of(request),
        db,
        city.id,
        _entity_id(entity_id),
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


@router.post("/entities/{entity_id:path}/attrs/", status_code=204, include_in_schema=False)
@router.post("/entities/{entity_id:path}/attrs", status_code=204)
def post_attributes(
    entity_id: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Append attributes (replace existing ones unless options=noOverwrite); types given in
    the fragment are added to the entity's."""
    check_params(request, parameters.APPEND)
    terms = term_map_for(request, body)
    stamp = now_iso()
    fragment = _body_object(body)
    attrs = parse_attributes(fragment, terms, stamp=stamp)
    types = parse_types(fragment["type"], terms) if "type" in fragment else []
    overwrite = not parse_options(request).no_overwrite
    outcome = ops.Outcome()

    def append(entity: dict[str, Any]) -> bool:
        nonlocal outcome
        outcome = ops.append_attributes(entity, attrs, stamp, overwrite=overwrite)
        return ops.add_types(entity, types, stamp) or outcome.changed

    service.modify_entity(hub_of(request), db, city.id, _entity_id(entity_id), append)
    return _partial_result(outcome, terms, request)


@router.patch("/entities/{entity_id:path}/attrs/", status_code=204, include_in_schema=False)
@router.patch("/entities/{entity_id:path}/attrs", status_code=204)
def patch_attributes(
    entity_id: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Update existing attributes (an attribute given as NGSI-LD null is deleted)."""
    check_params(request, parameters.UPDATE)
    terms = term_map_for(request, body)
    stamp = now_iso()
    kept, deletions = split_nulls(_body_object(body), terms)
    attrs = parse_attributes(kept, terms, stamp=stamp)

    def update(entity: dict[str, Any]) -> ops.Outcome:
        outcome = ops.update_attributes(entity, attrs, stamp)
        ops.delete_instances(entity, deletions, outcome, stamp)
        return outcome

    outcome = service.modify_entity(hub_of(request), db, city.id, _entity_id(entity_id), update)
    assert isinstance(outcome, ops.Outcome)
    return _partial_result(outcome, terms, request)


@router.put("/entities/{entity_id:path}", status_code=204)
def put_entity(
    entity_id: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Replace an entity (keeps its id and creation time)."""
    check_params(request, parameters.REPLACE)
    terms = term_map_for(request, body)
    fragment = {**_body_object(body), "id": _entity_id(entity_id)}
    if fragment.get("id") != entity_id:
        raise BadRequestData("the body's id differs from the URL", field="id")
    new = parse_entity(fragment, terms)
    service.modify_entity(
        hub_of(request),
        db,
        city.id,
        entity_id,
        lambda e: ops.replace_entity(e, new, new["modifiedAt"]),
    )
    return Response(status_code=204)


@router.patch("/entities/{entity_id:path}", status_code=204)
def merge_entity(
    entity_id: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Merge a fragment into an entity (``urn:ngsi-ld:null`` or null deletes an attribute)."""
    check_params(request, parameters.MERGE)
    terms = term_map_for(request, body)
    fragment = _body_object(body)
    if "id" in fragment and fragment["id"] != entity_id:
        raise BadRequestData("the body's id differs from the URL", field="id")
    stamp = now_iso()
    types, attrs, deleted = parse_merge(fragment, terms, stamp=stamp)
    patch = {"type": types, "attrs": attrs}
    service.modify_entity(
        hub_of(request),
        db,
        city.id,
        _entity_id(entity_id),
        lambda e: ops.merge_entity(e, patch, deleted, stamp),
    )
    return Response(status_code=204)


@router.delete("/entities/{entity_id:path}", status_code=204)
def delete_entity(entity_id: str, request: Request, db: DbSession, city: WriteCity) -> Response:
    """Delete an entity."""
    check_params(request, parameters.DELETE)
    service.delete_entity(hub_of(request), db, city.id, _entity_id(entity_id))
    return Response(status_code=204)
