"""Stored @contexts (``/jsonldContexts``, §5.13 / §6.30): host a client's @context, list the
hosted and cached ones, serve them (to anyone: a context URL must dereference), delete or
reload them. Deployment-wide; writing takes an operator of any city."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from qala.core.deps import CurrentPrincipal, DbSession, get_runtime
from qala.core.errors import Forbidden, Unauthorized
from qala.core.i18n import _
from qala.hub.ngsild import context_registry as registry
from qala.hub.ngsild.contexts_store import fetch
from qala.hub.ngsild.errors import BadRequestData, InvalidRequest
from qala.hub.ngsild.http import (
    JSON,
    JSON_LD,
    Body,
    accepted,
    check_params,
    context_usage,
    contexts_of,
)

router = APIRouter(tags=["NGSI-LD @contexts"])


def _open_sandbox(request: Request) -> bool:
    return bool(get_runtime(request).settings.hub_open_city)


def context_writer(request: Request, principal: CurrentPrincipal) -> None:
    """An operator of any city or a platform admin (anyone, in an open sandbox deployment)."""
    if principal.is_platform_admin or (not principal.authenticated and _open_sandbox(request)):
        return
    if not principal.authenticated:
        raise Unauthorized(str(_("Sign in to continue.")))
    operator = any(principal.has_role(city_id, "operator") for city_id in principal.roles)
    if not operator and not _open_sandbox(request):
        raise Forbidden(str(_("You have no access to this city.")))


def context_reader(request: Request, principal: CurrentPrincipal) -> None:
    """Any signed-in caller (anyone, in an open sandbox deployment)."""
    if not principal.authenticated and not _open_sandbox(request):
        raise Unauthorized(str(_("Sign in to continue.")))


Writer = Annotated[None, Depends(context_writer)]
Reader = Annotated[None, Depends(context_reader)]


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise BadRequestData(f"{name} must be true or false", field=name)
    return raw.lower() == "true"


@router.post("/jsonldContexts", status_code=201)
def post_context(request: Request, body: Body, db: DbSession, _writer: Writer) -> Response:
    """Host a @context; its URL is in the Location header."""
    check_params(request, frozenset())
    if body is None:
        raise InvalidRequest('the body is empty; send {"@context": ...}', field="body")
    local_id = registry.add_context(db, registry.check_document(body))
    location = request.url.path.rstrip("/") + "/" + local_id
    return Response(status_code=201, headers={"Location": location})


@router.get("/jsonldContexts")
def list_contexts(request: Request, db: DbSession, _reader: Reader) -> Response:
    """The stored @contexts: their URLs, or (``details=true``) what is known about each."""
    check_params(request, frozenset({"details", "kind"}))
    details = _flag(request, "details")
    kind = request.query_params.get("kind")
    if kind is not None and kind not in registry.API_KINDS:
        raise BadRequestData(f"kind must be one of {', '.join(registry.API_KINDS)}", field="kind")
    context_usage(request).flush(db)
    found = registry.list_contexts(db, str(request.base_url), kind)
    content: list[Any] = [c.details() for c in found] if details else [c.url for c in found]
    return JSONResponse(content)


@router.get("/jsonldContexts/{context_id:path}")
def get_context(context_id: str, request: Request, db: DbSession) -> Response:
    """A stored @context (no sign-in needed), or (``details=true``) what is known about it."""
    check_params(request, frozenset({"details"}))
    if _flag(request, "details"):
        context_usage(request).flush(db)
        found = registry.describe_context(db, context_id, str(request.base_url))
        return JSONResponse(found.details())
    document = registry.context_document(db, context_id)
    media = JSON_LD if accepted(request, geo=False) == JSON_LD else JSON
    return JSONResponse(document, media_type=media)


@router.delete("/jsonldContexts/{context_id:path}", status_code=204)
def delete_context(context_id: str, request: Request, db: DbSession, _writer: Writer) -> Response:
    """Delete a stored @context, or (``reload=true``) download a cached one again."""
    check_params(request, frozenset({"reload"}))
    reload = bool(_flag(request, "reload"))
    registry.delete_context(db, context_id, reload=reload, fetch=fetch)
    contexts_of(request).forget()
    return Response(status_code=204)
