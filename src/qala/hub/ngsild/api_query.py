"""POST /ngsi-ld/v1/entityOperations/query: Query Entities with a Query object in the body
(ETSI GS CIM 009 §5.2.23, §6.23): entities [{id, idPattern, type}], attrs, q, geoQ, scopeQ,
lang, pick/omit; limit, offset, count and options stay in the URL."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from qala.core.deps import DbSession
from qala.hub import service
from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.http import (
    Body,
    ReadCity,
    accepted,
    parse_options,
    term_map_for,
)
from qala.hub.ngsild.listing import entity_query, respond_entities
from qala.hub.ngsild.model import check_uri
from qala.hub.ngsild.query import parse_type_selection
from qala.hub.ngsild.render import View

router = APIRouter(tags=["NGSI-LD entities"])
EntityPredicate = Callable[[dict[str, Any]], bool]
URL_PARAMETERS = ("limit", "offset", "count", "local")


@router.post("/entityOperations/query")
def post_query(request: Request, body: Body, db: DbSession, city: ReadCity) -> Response:
    """Query entities; the filters come in a Query object in the body."""
    terms = term_map_for(request, body)
    query = _query_object(body)
    options = parse_options(request)
    media = accepted(request)
    spec = query_spec(request, query, terms)
    entities, total = service.query_entities(db, city.id, spec)
    view = View(
        terms=terms,
        form=options.form,
        sys_attrs=options.sys_attrs,
        attrs=set(spec.attrs) if spec.attrs else None,
        lang=query.get("lang") or request.query_params.get("lang"),
        pick=_names(query, "pick"),
        omit=_names(query, "omit"),
    )
    geometry = query.get("geometryProperty") or request.query_params.get("geometryProperty")
    return respond_entities(
        request, entities, total if options.count else None, view, media, geometry
    )


def _query_object(body: Any) -> dict[str, Any]:
    """The body, checked against the Query data type's rules."""
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a Query object", field="body")
    if body.get("type", "Query") != "Query":
        raise BadRequestData("the body's type must be Query", field="type")
    if "temporalQ" in body:
        raise BadRequestData("temporalQ belongs to temporal queries only", field="temporalQ")
    for key in ("q", "scopeQ", "lang", "csf", "geometryProperty"):
        if key in body and not isinstance(body[key], str):
            raise BadRequestData(f"{key} must be a string", field=key)
    for key in ("entities", "attrs", "pick", "omit"):
        if key in body and (not isinstance(body[key], list | str) or not body[key]):
            raise BadRequestData(f"{key} must be a non-empty array", field=key)
    level = body.get("joinLevel")
    if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level < 1):
        raise BadRequestData("joinLevel must be a positive integer", field="joinLevel")
    geo_q = body.get("geoQ")
    if geo_q is not None and not isinstance(geo_q, dict):
        raise BadRequestData("geoQ must be an object", field="geoQ")
    return body


def _names(query: dict[str, Any], key: str) -> set[str] | None:
    raw = query.get(key)
    if raw is None:
        return None
    names = raw.split(",") if isinstance(raw, str) else raw
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise BadRequestData(f"{key} must list names", field=key)
    return {name.strip() for name in names}


def query_spec(request: Request, query: dict[str, Any], terms: TermMap) -> service.EntityQuery:
    """The service query for a Query object (plus the URL's paging parameters)."""
    flat: dict[str, Any] = {
        key: request.query_params[key] for key in URL_PARAMETERS if key in request.query_params
    }
    for key in ("q", "scopeQ"):
        if key in query:
            flat[key] = query[key]
    attrs = _names(query, "attrs")
    if attrs is not None:
        flat["attrs"] = ",".join(sorted(attrs))
    geo_q = query.get("geoQ") or {}
    for key in ("georel", "geometry", "coordinates", "geoproperty"):
        if key in geo_q:
            flat[key] = geo_q[key]
    selectors = [_selector(item) for item in query.get("entities") or []]
    if len(selectors) == 1:
        flat.update(selectors[0])
    elif selectors:
        flat.setdefault("local", "true")  # selectors count as the filter the spec asks for
    spec = entity_query(request, terms, source=flat)
    if len(selectors) > 1:
        spec = _any_selector(spec, selectors, terms)
    return spec


def _selector(item: Any) -> dict[str, str]:
    """One EntitySelector: ``{"id"?, "idPattern"?, "type"?}`` with at least one of them."""
    if not isinstance(item, dict):
        raise BadRequestData("each entry of entities must be an object", field="entities")
    picked: dict[str, str] = {}
    for key in ("id", "idPattern", "type"):
        if key in item:
            if not isinstance(item[key], str) or not item[key]:
                raise BadRequestData(f"entities[].{key} must be a non-empty string", field=key)
            picked[key] = item[key]
    if not picked:
        raise BadRequestData("an entity selector needs id, idPattern or type", field="entities")
    if "id" in picked:
        check_uri(picked["id"], "id")
    return picked


def _any_selector(
    spec: service.EntityQuery, selectors: list[dict[str, str]], terms: TermMap
) -> service.EntityQuery:
    """Several selectors: an entity qualifies when it matches any one of them."""
    tests: list[EntityPredicate] = []
    candidates: set[str] | None = set()
    for selector in selectors:
        test, names = _selector_test(selector, terms)
        tests.append(test)
        if candidates is not None and names is not None:
            candidates.update(names)
        else:
            candidates = None
    ids = tuple(s["id"] for s in selectors) if all("id" in s for s in selectors) else ()
    return dataclasses.replace(
        spec,
        ids=ids,
        id_pattern=None,
        types=lambda entity: any(test(entity) for test in tests),
        type_candidates=tuple(sorted(candidates)) if candidates is not None else None,
    )


def _selector_test(
    selector: dict[str, str], terms: TermMap
) -> tuple[EntityPredicate, tuple[str, ...] | None]:
    checks: list[EntityPredicate] = []
    names: tuple[str, ...] | None = None
    if "id" in selector:
        wanted = selector["id"]
        checks.append(lambda entity: bool(entity["id"] == wanted))
    if "idPattern" in selector:
        try:
            pattern = re.compile(selector["idPattern"])
        except re.error as error:
            raise BadRequestData(
                f"idPattern is not a valid regex: {error}", field="idPattern"
            ) from None
        checks.append(lambda entity: pattern.search(entity["id"]) is not None)
    if "type" in selector:
        typed, names = parse_type_selection(selector["type"], terms)
        checks.append(typed)
    return (lambda entity: all(check(entity) for check in checks)), names
