"""NGSI-LD context subscriptions (``/ngsi-ld/v1/subscriptions``, §6.10-6.12): thin routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from qala.core.db import utcnow
from qala.core.deps import DbSession
from qala.hub.ngsild.context import ContextError, TermMap, parse_link_header
from qala.hub.ngsild.errors import BadRequestData, LdContextNotAvailable, TooManyResults
from qala.hub.ngsild.http import (
    Body,
    ReadCity,
    WriteCity,
    accepted,
    contexts_of,
    respond,
    term_map_for,
)
from qala.hub.ngsild.model import check_uri
from qala.hub.subscriptions import service
from qala.hub.subscriptions.document import Document, parse_members, parse_subscription

router = APIRouter(tags=["NGSI-LD subscriptions"])
MAX_LIMIT = 1000
PATH = "/ngsi-ld/v1/subscriptions/"


def _request_context(request: Request, body: Any) -> Any:
    """The request's own @context: the body's (ld+json) or the Link header's URL, or None."""
    if isinstance(body, dict) and "@context" in body:
        return body["@context"]
    return parse_link_header(request.headers.get("link", ""))


def _notify_terms(request: Request, document: Document, terms: TermMap) -> TermMap:
    """The term map notifications are compacted with: jsonldContext's, else ``terms``."""
    if "jsonldContext" not in document:
        return terms
    try:
        return contexts_of(request).term_map(document["jsonldContext"])
    except ContextError as error:
        raise LdContextNotAvailable(str(error)) from None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object", field="body")
    return body


def _subscription_id(subscription_id: str) -> str:
    return check_uri(subscription_id, "subscriptionId")


@router.post("/subscriptions", status_code=201)
@router.post("/subscriptions/", status_code=201, include_in_schema=False)
def post_subscription(request: Request, body: Body, db: DbSession, city: WriteCity) -> Response:
    """Create a subscription; notifications go to its endpoint when matching entities change."""
    terms = term_map_for(request, body)
    document = parse_subscription(body, terms, now=utcnow())
    contexts = service.Contexts(
        _request_context(request, body), terms, _notify_terms(request, document, terms)
    )
    service.create_subscription(db, city.id, document, contexts)
    return Response(status_code=201, headers={"Location": PATH + document["id"]})


@router.get("/subscriptions")
@router.get("/subscriptions/", include_in_schema=False)
def list_subscriptions(request: Request, db: DbSession, city: ReadCity) -> Response:
    """The city's subscriptions, a page at a time (limit, offset, count)."""
    terms = term_map_for(request)
    media = accepted(request, geo=False)
    limit, offset = _int(request, "limit", 20), _int(request, "offset", 0)
    if limit > MAX_LIMIT:
        raise TooManyResults(f"limit may be at most {MAX_LIMIT}", field="limit")
    rows, total = service.list_subscriptions(db, city.id, limit, offset)
    sys_attrs = "sysAttrs" in request.query_params.get("options", "")
    body = [service.render_subscription(row, terms, sys_attrs=sys_attrs) for row in rows]
    count = request.query_params.get("count", "false").lower() == "true"
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    return respond(request, body, terms, media=media, headers=headers)


def _int(request: Request, key: str, default: int) -> int:
    raw = request.query_params.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestData(f"{key} must be a whole number", field=key) from None
    if value < 0 or (key == "limit" and value == 0):
        raise BadRequestData(f"{key} is out of range", field=key)
    return value


@router.get("/subscriptions/{subscription_id}")
def get_subscription(
    subscription_id: str, request: Request, db: DbSession, city: ReadCity
) -> Response:
    """One subscription with its status and notification counters."""
    terms = term_map_for(request)
    media = accepted(request, geo=False)
    row = service.get_subscription(db, city.id, _subscription_id(subscription_id))
    sys_attrs = "sysAttrs" in request.query_params.get("options", "")
    body = service.render_subscription(row, terms, sys_attrs=sys_attrs)
    return respond(request, body, terms, media=media)


@router.patch("/subscriptions/{subscription_id}", status_code=204)
def patch_subscription(
    subscription_id: str, request: Request, body: Body, db: DbSession, city: WriteCity
) -> Response:
    """Change some members of a subscription (null removes an optional member)."""
    terms = term_map_for(request, body)
    fragment_body = _object(body)
    sid = _subscription_id(subscription_id)
    if not {k for k in fragment_body if k not in ("@context", "id", "type")}:
        raise BadRequestData("nothing to update", field="body")
    if fragment_body.get("id", sid) != sid:
        raise BadRequestData("the body's id differs from the URL", field="id")
    fragment, nulled = parse_members(fragment_body, terms, partial=True)
    row = service.get_subscription(db, city.id, sid)
    context = _request_context(request, fragment_body)
    base = (
        service.Contexts(context, terms, terms)
        if context is not None
        else service.stored_contexts(row)
    )
    merged = {k: v for k, v in {**row.data, **fragment}.items() if k not in nulled}
    contexts = service.Contexts(
        base.context, base.terms, _notify_terms(request, merged, base.terms)
    )
    service.update_subscription(db, city.id, sid, fragment, nulled, contexts)
    return Response(status_code=204)


@router.delete("/subscriptions/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: str, db: DbSession, city: WriteCity) -> Response:
    """Delete a subscription; notifications still queued for it are dropped."""
    service.delete_subscription(db, city.id, _subscription_id(subscription_id))
    return Response(status_code=204)
