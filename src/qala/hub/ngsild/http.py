"""The HTTP edge of NGSI-LD: tenant → city, @context from Link header or body, media types,
options, and responses with the right Content-Type and Link header."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from qala.core import cities
from qala.core.auth import service as auth
from qala.core.cities import CityContext
from qala.core.deps import CurrentPrincipal, DbSession, city_context, get_runtime
from qala.core.errors import Forbidden, Unauthorized
from qala.core.i18n import _
from qala.hub.ngsild.context import (
    CORE_CONTEXT_URL,
    ContextCache,
    ContextError,
    ContextFetchError,
    TermMap,
    link_header,
    parse_link_header,
)
from qala.hub.ngsild.context_registry import ContextUsage
from qala.hub.ngsild.errors import (
    BadRequestData,
    InvalidRequest,
    LdContextNotAvailable,
    NotAcceptable,
    ResourceNotFound,
    UnsupportedMediaType,
)
from qala.hub.ngsild.render import View, parse_projection

JSON = "application/json"
JSON_LD = "application/ld+json"
GEO_JSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
TENANT_HEADER = "NGSILD-Tenant"
#: How deeply a request body may nest (deeper bodies are refused, never crash the broker).
MAX_BODY_DEPTH = 64
#: Query parameters any NGSI-LD operation accepts (``city`` is Qala's tenant fallback).
COMMON_PARAMS = frozenset({"city"})


def contexts_of(request: Request) -> ContextCache:
    """The deployment's context cache (kept on the hub's runtime state)."""
    state = request.app.state
    cache: ContextCache | None = getattr(state, "ngsild_contexts", None)
    if cache is None:
        from qala.hub.ngsild.contexts_store import make_loader

        cache = ContextCache(make_loader(get_runtime(request).database))
        state.ngsild_contexts = cache
    return cache


def context_usage(request: Request) -> ContextUsage:
    """The deployment's counter of @context uses (``numberOfHits``)."""
    state = request.app.state
    usage: ContextUsage | None = getattr(state, "ngsild_context_usage", None)
    if usage is None:
        usage = ContextUsage()
        state.ngsild_context_usage = usage
    return usage


def check_params(request: Request, allowed: frozenset[str] | set[str]) -> None:
    """InvalidRequest for a query parameter the operation does not define (§6.3.20)."""
    unknown = sorted(set(request.query_params) - allowed - COMMON_PARAMS)
    if unknown:
        raise InvalidRequest(
            f"unknown query parameter(s) for this operation: {', '.join(unknown)}",
            field=unknown[0],
        )


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
    except RecursionError:
        raise BadRequestData("the body nests too deeply", field="body") from None
    check_depth(body)
    request.state.ngsild_media = media
    return body


def check_depth(document: Any, limit: int = MAX_BODY_DEPTH) -> None:
    """BadRequestData when JSON nests deeper than ``limit`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise BadRequestData(f"the body nests deeper than {limit} levels", field="body")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


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
    return context_terms(request, context)


def context_terms(request: Request, context: Any) -> TermMap:
    """The term map of a @context (None: the core context), counting the stored ones used;
    LdContextNotAvailable when a remote one cannot be had, BadRequestData when it is invalid."""
    try:
        terms = contexts_of(request).term_map(context)
    except ContextFetchError as error:
        raise LdContextNotAvailable(str(error)) from None
    except ContextError as error:
        raise BadRequestData(str(error), field="@context") from None
    if terms.links:
        context_usage(request).record(terms.links)
    return terms


def hub_city(role: str) -> Callable[..., Awaitable[CityContext]]:
    """The city an NGSI-LD request is about (``NGSILD-Tenant``, ``Qala-City`` or the caller's),
    where the caller holds ``role``; an open sandbox city may allow anonymous callers."""

    async def dependency(
        request: Request, db: DbSession, principal: CurrentPrincipal
    ) -> CityContext:
        slug = request.headers.get(TENANT_HEADER) or request.headers.get("qala-city")
        slug = slug or request.query_params.get("city")
        open_city = get_runtime(request).settings.hub_open_city
        if not principal.authenticated:
            if not open_city:
                raise Unauthorized(str(_("Sign in to continue.")))
            slug = slug or open_city
            if slug != open_city:
                raise Forbidden(str(_("You have no access to this city.")))
            return _tenant(request, db, slug)
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
        city = _tenant(request, db, slug)
        if not principal.has_role(city.id, role) and not _is_open(open_city, slug, principal):
            raise Forbidden(str(_("You have no access to this city.")))
        return city

    dependency.__name__ = f"hub_city_{role}"
    return dependency


def _is_open(open_city: str, slug: str, principal: auth.Principal) -> bool:
    return bool(open_city) and slug == open_city and principal.authenticated


def _tenant(request: Request, db: DbSession, slug: str) -> CityContext:
    try:
        return city_context(request, db, slug)
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
        raise InvalidRequest(f"unknown options: {', '.join(sorted(unknown))}", field="options")
    form = request.query_params.get("format") or next(
        (word for word in ("keyValues", "concise", "normalized") if word in words), "normalized"
    )
    if form not in ("keyValues", "concise", "normalized", "simplified"):
        raise InvalidRequest(f"unknown format {form}", field="format")
    if form == "simplified":
        form = "keyValues"
    count = request.query_params.get("count", "false").lower() == "true"
    return Options(form, "sysAttrs" in words, "noOverwrite" in words, count)


def view_for(request: Request, terms: TermMap, options: Options) -> View:
    """How to render entities for this request."""
    attrs = _names(request, "attrs")
    pick, omit = _projection(request, "pick"), _projection(request, "omit")
    if pick is not None and omit is not None:
        raise BadRequestData("pick and omit cannot be used together", field="omit")
    if attrs is not None and (pick is not None or omit is not None):
        raise BadRequestData("attrs cannot be used with pick or omit", field="attrs")
    return View(
        terms=terms,
        form=options.form,
        sys_attrs=options.sys_attrs,
        attrs={terms.expand(name) for name in attrs} if attrs is not None else None,
        lang=request.query_params.get("lang"),
        pick=set(pick) if pick is not None else None,
        omit=set(omit) if omit is not None else None,
    )


def _projection(request: Request, key: str) -> list[str] | None:
    raw = request.query_params.get(key)
    if raw is None:
        return None
    try:
        return parse_projection(raw)
    except ValueError as error:
        raise BadRequestData(f"{key} is not a valid projection: {error}", field=key) from None


def _names(request: Request, key: str) -> list[str] | None:
    raw = request.query_params.get(key)
    if raw is None:
        return None
    names = [part.strip() for part in raw.split(",") if part.strip()]
    if not names:
        raise BadRequestData(f"{key} is empty", field=key)
    return names


def accepted(request: Request, *, geo: bool = True) -> str:
    """The response media type asked for by Accept (§6.3.4): the highest quality wins; among
    equals the first of application/json, application/ld+json, application/geo+json; a media
    range stands for the first offered type it covers; q=0 refuses a type."""
    accept = request.headers.get("accept", "").strip().lower() or "*/*"
    offered = (JSON, JSON_LD, GEO_JSON) if geo else (JSON, JSON_LD)
    quality: dict[str, float] = {}
    for part in accept.split(","):
        media, _sep, params = part.strip().partition(";")
        weight = _quality(params)
        for candidate in _covered(media.strip(), offered):
            exact = candidate == media.strip()
            if exact or candidate not in quality:
                quality[candidate] = weight if exact else max(weight, quality.get(candidate, 0))
    best = max(
        (candidate for candidate in offered if quality.get(candidate, 0) > 0),
        key=lambda candidate: (quality[candidate], -offered.index(candidate)),
        default=None,
    )
    if best is None:
        raise NotAcceptable(f"cannot answer with {accept}; use {', '.join(offered)}")
    return best


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _eq, value = param.strip().partition("=")
        if key == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def _covered(media: str, offered: tuple[str, ...]) -> list[str]:
    if media in ("*/*", "application/*"):
        return list(offered)
    return [media] if media in offered else []


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
    in_body = media == JSON_LD or (media == GEO_JSON and not _prefers_plain_json(request))
    if in_body and media == JSON_LD and isinstance(content, list):
        content = [{**item, "@context": context} for item in content]
    elif in_body and isinstance(content, dict):
        content = {**content, "@context": context}
    else:
        headers["Link"] = link_header(terms.links[0] if terms.links else CORE_CONTEXT_URL)
    return JSONResponse(content, status_code=status_code, media_type=media, headers=headers)


def _prefers_plain_json(request: Request) -> bool:
    """``Prefer: body=json`` asks for GeoJSON without @context in the body (§6.3.6)."""
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    return "body=json" in prefer.split(",")
