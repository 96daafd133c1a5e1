"""Entity listings: query parameters (or a Query body) read into an ``EntityQuery``, and a
page of results rendered as JSON, JSON-LD or GeoJSON."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from qala.hub import service
from qala.hub.ngsild.errors import BadRequestData
from qala.hub.ngsild.geo import parse_geo_query
from qala.hub.ngsild.http import GEO_JSON, respond
from qala.hub.ngsild.model import check_uri
from qala.hub.ngsild.query import parse_type_selection
from qala.hub.ngsild.query_sql import parse_q_for_query
from qala.hub.ngsild.render import render_entity, render_feature
from qala.hub.ngsild.scope import parse_scope_q

MAX_LIMIT = 1000


def respond_entities(
    request: Request,
    entities: list[dict[str, Any]],
    total: int | None,
    view: Any,
    media: str,
    geometry: str | None,
) -> Response:
    """A page of query results as JSON, JSON-LD or a GeoJSON FeatureCollection."""
    terms = view.terms
    headers = {"NGSILD-Results-Count": str(total)} if total is not None else {}
    if media == GEO_JSON:
        iri = terms.expand(geometry or "location")
        features = [render_feature(entity, view, iri) for entity in entities]
        body = {"type": "FeatureCollection", "features": features}
        return respond(request, body, terms, media=GEO_JSON, headers=headers)
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
    geo_given = params.get("georel") or params.get("geometry") or params.get("coordinates")
    scope_text = params.get("scopeQ")
    if not (
        ids
        or params.get("idPattern")
        or type_text
        or attrs
        or q_text
        or geo_given
        or scope_text
        or params.get("local") == "true"
    ):
        raise BadRequestData(
            "give at least one of id, idPattern, type, attrs, q or a geo-query", field="type"
        )
    if type_text == "*" and params.get("local") == "false":
        raise BadRequestData("type=* queries are local; local=false is not allowed", field="local")
    types, candidates = parse_type_selection(type_text, terms) if type_text else (None, None)
    geo = bbox = None
    if geo_given:
        geo, bbox = parse_geo_query(
            params.get("georel") or "",
            params.get("geometry") or "",
            params.get("coordinates"),
            params.get("geoproperty"),
            terms,
        )
    q_predicate, q_where = parse_q_for_query(q_text, terms) if q_text else (None, ())
    limit, offset = _int(params, "limit", 20), _int(params, "offset", 0)
    if limit > MAX_LIMIT:
        from qala.hub.ngsild.errors import TooManyResults

        raise TooManyResults(f"limit may be at most {MAX_LIMIT}", field="limit")
    return service.EntityQuery(
        ids=ids,
        id_pattern=params.get("idPattern"),
        types=types if candidates is None else None,  # the SQL type filter is exact then
        type_candidates=candidates,
        attrs=attrs,
        q=q_predicate,
        where=q_where,
        geo=geo,
        bbox=bbox,
        scope=parse_scope_q(scope_text),
        limit=limit,
        offset=offset,
        count=str(params.get("count", "false")).lower() == "true",
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
