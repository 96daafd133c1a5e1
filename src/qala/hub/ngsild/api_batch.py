"""NGSI-LD batch entity operations (``/entityOperations/{create,upsert,update,delete,merge}``):
each entity is checked and applied on its own; the ones that succeed commit together."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from qala.core.deps import DbSession
from qala.hub import bulk
from qala.hub.ngsild import batch
from qala.hub.ngsild.context import TermMap
from qala.hub.ngsild.errors import (
    AlreadyExists,
    BadRequestData,
    InternalError,
    InvalidRequest,
    NgsiLdProblem,
)
from qala.hub.ngsild.http import (
    JSON,
    JSON_LD,
    Body,
    WriteCity,
    check_params,
    context_terms,
    parse_options,
    term_map_for,
)
from qala.hub.ngsild.model import now_iso
from qala.hub.runtime import hub_of

log = logging.getLogger(__name__)
router = APIRouter(tags=["NGSI-LD batch operations"])
PARAMS: dict[str, frozenset[str]] = {
    "create": frozenset({"local"}),
    "upsert": frozenset({"options", "local"}),
    "update": frozenset({"options", "local"}),
    "delete": frozenset({"local"}),
    "merge": frozenset({"local"}),
}


def post_batch(
    op: batch.Operation, request: Request, body: Any, db: DbSession, city: WriteCity
) -> Response:
    """Create, upsert, update, delete or merge many entities in one request."""
    check_params(request, PARAMS[op])
    options = _options(request, op)
    if body is None:
        raise InvalidRequest("the body is empty; send a JSON array", field="body")
    items = batch.check_items(body)
    shared = term_map_for(request, body)
    stamp = now_iso()
    read = batch.read_items(op, items, _terms_reader(request, shared), stamp)
    wanted = {item.entity_id for item in read if item.error is None}
    rows = bulk.load_rows(db, city.id, wanted, lock=op != "create")
    current = {entity_id: row.data for entity_id, row in rows.items()}
    result = batch.fold(op, read, current, stamp, options)
    writes = [
        bulk.Write(entity_id, step.before, step.after, _attributes(step.changed))
        for entity_id, step in result.steps.items()
    ]
    failed = bulk.write_entities(hub_of(request), db, city.id, rows, writes)
    for entity_id, error in failed.items():
        result.fail(entity_id, _problem(entity_id, error))
    return _respond(op, result)


def _route(op: batch.Operation) -> None:
    def endpoint(request: Request, body: Body, db: DbSession, city: WriteCity) -> Response:
        return post_batch(op, request, body, db, city)

    endpoint.__name__ = f"batch_{op}"
    endpoint.__doc__ = f"Batch entity {op} (one request, many entities)."
    router.add_api_route(f"/entityOperations/{op}", endpoint, methods=["POST"], status_code=204)


for _op in batch.OPERATIONS:
    _route(_op)


def _options(request: Request, operation: batch.Operation) -> batch.Options:
    options = parse_options(request)
    words = {w for raw in request.query_params.getlist("options") for w in raw.split(",")}
    if operation == "upsert":
        if {"replace", "update"} <= words:
            raise BadRequestData("options may be replace or update, not both", field="options")
        return batch.Options(replace="update" not in words)
    return batch.Options(overwrite=not options.no_overwrite)


def _terms_reader(request: Request, shared: TermMap) -> batch.TermsFor:
    """How to find an item's @context: its own (application/ld+json) or the request's."""
    media = getattr(request.state, "ngsild_media", JSON)

    def terms_for(item: Mapping[str, Any]) -> TermMap:
        if media == JSON_LD:
            if "@context" not in item:
                raise BadRequestData(
                    "with application/ld+json each entity must carry its @context",
                    field="@context",
                )
            return context_terms(request, item["@context"])
        if "@context" in item:
            raise BadRequestData(
                "an entity with @context must be sent as application/ld+json", field="@context"
            )
        return shared

    return terms_for


def _attributes(changed: set[str]) -> tuple[str, ...]:
    return tuple(sorted(name for name in changed if not name.startswith("@")))


def _problem(entity_id: str, error: Exception) -> NgsiLdProblem:
    if isinstance(error, NgsiLdProblem):
        return error
    if isinstance(error, IntegrityError):
        return AlreadyExists(f"entity {entity_id} was written by another request meanwhile")
    log.error("batch write of %s failed", entity_id, exc_info=error)
    return InternalError(f"entity {entity_id} could not be written")


def _respond(operation: batch.Operation, result: batch.Result) -> Response:
    if result.errors:
        body = {
            "success": result.success,
            "errors": [
                {"entityId": entity_id, "error": _details(problem)}
                for entity_id, problem in result.errors
            ],
        }
        return JSONResponse(body, status_code=207)
    if operation == "create" or (operation == "upsert" and result.created):
        return JSONResponse(result.created, status_code=201)
    return Response(status_code=204)


def _details(problem: NgsiLdProblem) -> dict[str, Any]:
    body = problem.body()
    return {key: body[key] for key in ("type", "title", "status", "detail") if key in body}
