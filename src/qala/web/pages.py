"""Dashboard pages: city list, situational centre, citizen page, sign-in and sign-out."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qala.core import cities
from qala.core.auth import service as auth
from qala.core.auth.models import User
from qala.core.deps import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    CurrentPrincipal,
    DbSession,
    forget_principals,
    get_runtime,
)
from qala.core.errors import TooManyRequests
from qala.core.i18n import _
from qala.core.modules import Tile
from qala.core.templating import render
from qala.settings import LANGUAGES
from qala.web import service

router = APIRouter(include_in_schema=False)

TILES: tuple[Tile, ...] = (
    Tile("web.population", _("Population"), service.population_tile, public=True, order=1),
    Tile("web.districts", _("Districts"), service.districts_tile, public=True, order=2),
    Tile("web.alerts_today", _("Alerts today"), service.alerts_today_tile, order=3),
)


def _page_context(
    request: Request, db: DbSession, principal: auth.Principal, city: cities.City | None
) -> dict[str, Any]:
    """What every page's layout needs: cities to switch to, the user, the CSRF token."""
    runtime = get_runtime(request)
    language = request.state.language
    if principal.user_id is not None and request.query_params.get("lang") in LANGUAGES:
        user = db.get(User, principal.user_id)
        if user is not None and user.language != language:
            user.language = language  # the switch is remembered as the user's setting
    all_cities = cities.list_cities(db)
    session_raw = request.cookies.get(SESSION_COOKIE, "")
    return {
        "city": city,
        "cities": all_cities,
        "principal": principal,
        "csrf_token": auth.csrf_token(runtime.settings.secret_key, session_raw)
        if principal.user_id
        else "",
        "modules": runtime.modules,
        "path": request.url.path,
    }


def _map_data(city: cities.City, language: str, tile_url: str, attribution: str) -> str:
    data = {
        "centre": [city.centre_lat, city.centre_lon],
        "bounds": city.bounds,
        "districts": cities.districts_geojson(city, language),
        "tileUrl": tile_url,
        "attribution": attribution,
    }
    return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


@router.get("/", response_class=HTMLResponse)
def city_list(request: Request, db: DbSession, principal: CurrentPrincipal) -> Response:
    """The cities served here, each with its citizen page and situational centre."""
    return render(request, "web/city_list.html", _page_context(request, db, principal, None))


@router.get("/c/{city}/", response_class=HTMLResponse)
def situational_centre(
    city: str, request: Request, db: DbSession, principal: CurrentPrincipal
) -> Response:
    """The operator's live screen of one city: map, tiles, alerts."""
    row = cities.get_city(db, city)
    if not principal.authenticated:
        return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)
    if not principal.has_role(row.id, "operator"):
        return RedirectResponse(f"/c/{row.slug}/public", status_code=303)
    runtime = get_runtime(request)
    context = _page_context(request, db, principal, row)
    context["tiles"] = service.visible_tiles(db, row, runtime.tiles, public_only=False)
    context["map_data"] = _map_data(
        row, request.state.language, runtime.settings.tile_url, runtime.settings.tile_attribution
    )
    return render(request, "web/dashboard.html", context)


@router.get("/c/{city}/public", response_class=HTMLResponse)
def citizen_page(
    city: str, request: Request, db: DbSession, principal: CurrentPrincipal
) -> Response:
    """What any resident sees without signing in."""
    row = cities.get_city(db, city)
    runtime = get_runtime(request)
    context = _page_context(request, db, principal, row)
    context["tiles"] = service.visible_tiles(db, row, runtime.tiles, public_only=True)
    context["map_data"] = _map_data(
        row, request.state.language, runtime.settings.tile_url, runtime.settings.tile_attribution
    )
    return render(request, "web/public.html", context)


def _safe_next(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(char) < 32 for char in target):
        return "/"  # browsers read /\host and /<tab>/host as //host: another site
    return target


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(
    request: Request, db: DbSession, principal: CurrentPrincipal, next: str = "/"
) -> Response:
    """The sign-in form."""
    context = _page_context(request, db, principal, None)
    context.update(next=_safe_next(next), error="")
    return render(request, "web/sign_in.html", context)


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    db: DbSession,
    username: str = Form(..., max_length=150),
    password: str = Form(..., max_length=500),
    next: str = Form("/"),
) -> Response:
    """Check the credentials, start a session and go where the user was heading."""
    runtime = get_runtime(request)
    ip = request.client.host if request.client else ""
    try:
        user = auth.authenticate(db, username, password, ip=ip)
    except (auth.BadCredentials, TooManyRequests) as problem:
        context = _page_context(request, db, auth.ANONYMOUS, None)
        context.update(next=_safe_next(next), error=problem.detail, username=username)
        return render(request, "web/sign_in.html", context, status_code=problem.status)
    raw, _token = auth.issue_token(
        db, user, kind="session", max_age=runtime.settings.session_max_age
    )
    target = _safe_next(next)
    if target == "/":
        target = _home_of(db, auth.Principal.of_user(user))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=runtime.settings.session_max_age,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.secure_cookies,
    )
    if user.language:
        response.set_cookie(LANGUAGE_COOKIE, user.language, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _home_of(db: DbSession, principal: auth.Principal) -> str:
    for city in cities.list_cities(db):
        if principal.has_role(city.id, "operator"):
            return f"/c/{city.slug}/"
    for city in cities.list_cities(db):
        if principal.role_in(city.id):
            return f"/c/{city.slug}/public"
    return "/"


@router.post("/sign-out")
def sign_out(request: Request, db: DbSession, csrf_token: str = Form("")) -> Response:
    """End the session (the form carries the CSRF token)."""
    raw = request.cookies.get(SESSION_COOKIE)
    response = RedirectResponse("/", status_code=303)
    if raw and csrf_token == auth.csrf_token(get_runtime(request).settings.secret_key, raw):
        auth.revoke_token(db, raw)
        forget_principals(request)
        response.delete_cookie(SESSION_COOKIE)
    return response
