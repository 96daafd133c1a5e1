"""The HTTP edge of NGSI-LD: tenant → city, @context from Link header or body, media types,
options, and responses with the right Content-Type and Link header."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from qala.core import cities
from qala.core.auth import service as auth
from qala.core.cities import CityContext
from qala.core.deps import CurrentPrincipal, DbSession, get_runtime
from qala.core.errors import Forbidden, Unauthorized
from qala.core.i18n import _
from qala.hub.ngsild.context import (
    CORE_CONTEXT_URL,
    ContextCache,
    ContextError,
    TermMap,
    link_header,
    parse_link_header,
)
from qala.hub.ngsild.errors import (
    BadRequestData,
    InvalidRequest,
    LdContextNotAvailable,
    NotAcceptable,
    ResourceNotFound,
    UnsupportedMediaType,
)
from qala.hub.ngsild.render import View

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
TENANT_HEADER = "NGSILD-Tenant"


def contexts_of(request: Request) -> ContextCache:
    """The deployment's context cache (kept on the hub's runtime state)."""
    state = request.app.state
    cache: ContextCache | None = getattr(state, "ngsild_contexts", None)
    if cache is None:
        from qala.hub.ngsild.contexts_store import make_loader

        cache = ContextCache(make_loader(get_runtime(request).database))
        state.ngsild_contexts = cache
    return cache


async def read_json(request: Request) -> Any:
    """The request body as JSON (None when empty), checking the media type."""
    raw = await request.body()
    if not raw:
        return None
    media = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if media not in (JSON, JSON_LD, MERGE_PATCH, GEO_JSON):
        raise UnsupportedMediaType(f"Content-Type {media} is not accepted; use {JSON} or {JSON_LD}")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"the body is not valid JSON: {error}", field="body") from None
    request.state.ngsild_media = media
    return body


Body = Annotated[Any, Depends(read_json)]


def term_map_for(request: Request, body: Any = None) -> TermMap:
    """The active context of a request: the body's @context (ld+json) or the Link header."""
    media = getattr(request.state, "ngsild_media", JSON)
    link = parse_link_header(request.headers.get("link", ""))
    context: Any = None
    body_context = body.get("@context") if isinstance(body, dict) else None
    if media == JSON_LD and body is not None:
        if isinstance(body, dict) and body_context is None:
            raise BadRequestData("application/ld+json bodies must carry @context", field="@context")
        if link is not None:
            raise BadRequestData("send the @context in the body or in a Link header, not both")
        context = body_context
    else:
        if body_context is not None:
            raise BadRequestData(
                "a body with @context must be sent as application/ld+json", field="@context"
            )
        context = link
    try:
        return contexts_of(request).term_map(context)
    except ContextError as error:
        raise LdContextNotAvailable(str(error)) from None


def hub_city(role: str) -> Callable[..., CityContext]:
    """The city an NGSI-LD request is about (``NGSILD-Tenant``, ``Qala-City`` or the caller's),
    where the caller holds ``role``; an open sandbox city may allow anonymous callers."""

    def dependency(request: Request, db: DbSession, principal: CurrentPrincipal) -> CityContext:
        slug = request.headers.get(TENANT_HEADER) or request.headers.get("qala-city")
        slug = slug or request.query_params.get("city")
        open_city = get_runtime(request).settings.hub_open_city
        if not principal.authenticated:
            if not open_city:
                raise Unauthorized(str(_("Sign in to continue.")))
            slug = slug or open_city
            if slug != open_city:
                raise Forbidden(str(_("You have no access to this city.")))
            return CityContext.of(_tenant(db, slug))
        if not slug:
            if len(principal.roles) == 1:
                (city_id,) = principal.roles
                row = db.get(cities.City, city_id)
                assert row is not None
                slug = row.slug
            else:
                raise BadRequestData(
                    f"say which city: the {TENANT_HEADER} header", field=TENANT_HEADER
                )
        city = _tenant(db, slug)
        if not principal.has_role(city.id, role) and not _is_open(open_city, slug, principal):
            raise Forbidden(str(_("You have no access to this city.")))
        return CityContext.of(city)

    dependency.__name__ = f"hub_city_{role}"
    return dependency


def _is_open(open_city: str, slug: str, principal: auth.Principal) -> bool:
    return bool(open_city) and slug == open_city and principal.authenticated


def _tenant(db: DbSession, slug: str) -> cities.City:
    try:
        return cities.get_city(db, slug)
    except cities.CityNotFound:
        raise ResourceNotFound(f"no tenant {slug!r}", field=TENANT_HEADER) from None


ReadCity = Annotated[CityContext, Depends(hub_city("specialist"))]
WriteCity = Annotated[CityContext, Depends(hub_city("operator"))]


@dataclass(frozen=True)
class Options:
    """The ``options`` / ``format`` query parameters."""

    form: str
    sys_attrs: bool
    no_overwrite: bool
    count: bool


def parse_options(request: Request) -> Options:
    """Read ``options`` (comma list) and ``format``."""
    words: set[str] = set()
    for raw in request.query_params.getlist("options"):
        words.update(part.strip() for part in raw.split(",") if part.strip())
    known = {"keyValues", "concise", "normalized", "sysAttrs", "noOverwrite", "replace", "update"}
    unknown = words - known
    if unknown:
        raise BadRequestData(f"unknown options: {', '.join(sorted(unknown))}", field="options")
    form = request.query_params.get("format") or next(
        (word for word in ("keyValues", "concise", "normalized") if word in words), "normalized"
    )
    if form not in ("keyValues", "concise", "normalized", "simplified"):
        raise BadRequestData(f"unknown format {form}", field="format")
    if form == "simplified":
        form = "keyValues"
    count = request.query_params.get("count", "false").lower() == "true"
    return Options(form, "sysAttrs" in words, "noOverwrite" in words, count)


def view_for(request: Request, terms: TermMap, options: Options) -> View:
    """How to render entities for this request."""
    attrs = _names(request, "attrs")
    pick, omit = _names(request, "pick"), _names(request, "omit")
    return View(
        terms=terms,
        form=options.form,
        sys_attrs=options.sys_attrs,
        attrs={terms.expand(name) for name in attrs} if attrs is not None else None,
        lang=request.query_params.get("lang"),
        pick=set(pick) if pick is not None else None,
        omit=set(omit) if omit is not None else None,
    )


def _names(request: Request, key: str) -> list[str] | None:
    raw = request.query_params.get(key)
    if raw is None:
        return None
    names = [part.strip() for part in raw.split(",") if part.strip()]
    if not names:
        raise BadRequestData(f"{key} is empty", field=key)
    return names


def accepted(request: Request, *, geo: bool = True) -> str:
    """The response media type asked for by Accept."""
    accept = request.headers.get("accept", "*/*").lower()
    ranked = []
    for order, part in enumerate(accept.split(",")):
        media, _sep, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, order, media.strip()))
    for _q, _order, media in sorted(ranked):
        if media in (JSON, "*/*", "application/*"):
            return JSON
        if media == JSON_LD:
            return JSON_LD
        if media == GEO_JSON and geo:
            return GEO_JSON
    raise NotAcceptable(f"cannot answer with {accept}; use {JSON}, {JSON_LD} or {GEO_JSON}")


def respond(
    request: Request,
    content: Any,
    terms: TermMap,
    *,
    status_code: int = 200,
    media: str = JSON,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON response in ``media``: @context in the body for ld+json, else a Link header."""
    headers = dict(headers or {})
    context: Any = list(terms.links) or CORE_CONTEXT_URL
    if isinstance(context, list) and len(context) == 1:
        context = context[0]
    if media == JSON_LD:
        if isinstance(content, list):
            content = [{**item, "@context": context} for item in content]
        elif isinstance(content, dict):
            content = {**content, "@context": context}
    else:
        headers["Link"] = link_header(terms.links[0] if terms.links else CORE_CONTEXT_URL)
    return JSONResponse(content, status_code=status_code, media_type=media, headers=headers)
