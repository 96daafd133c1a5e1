"""Utilities pages (the utilities screen of a city, incident actions from it) and the
situational-centre tiles: open incidents, losses today, meters silent."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from qala.core import cities
from qala.core.auth import service as auth
from qala.core.cities import CityContext
from qala.core.deps import SESSION_COOKIE, CurrentPrincipal, DbSession, get_runtime
from qala.core.errors import Forbidden, NotFound, Problem
from qala.core.i18n import _
from qala.core.modules import Tile, TileData
from qala.core.templating import render
from qala.utilities import dashboard, incidents, state
from qala.utilities.charts import number

router = APIRouter(include_in_schema=False)
ACTIONS = {"acknowledge": incidents.acknowledge, "resolve": incidents.resolve}


def _layout(
    request: Request, db: Session, principal: auth.Principal, city: cities.City
) -> dict[str, Any]:
    """What the shared layout needs: cities to switch to, the user, the CSRF token."""
    runtime = get_runtime(request)
    session_raw = request.cookies.get(SESSION_COOKIE, "")
    csrf = auth.csrf_token(runtime.settings.secret_key, session_raw) if principal.user_id else ""
    return {
        "city": city,
        "cities": cities.list_cities(db),
        "principal": principal,
        "csrf_token": csrf,
        "modules": runtime.modules,
        "path": request.url.path,
    }


@router.get("/c/{city}/utilities", response_class=HTMLResponse)
def utilities_page(
    city: str, request: Request, db: DbSession, principal: CurrentPrincipal
) -> Response:
    """The utility engineer's and operator's screen: consumption, losses, incidents, map."""
    row = cities.get_city(db, city)
    if not row.module_enabled("utilities"):
        raise NotFound(str(_("This city does not use this module.")))
    if not principal.authenticated:
        return RedirectResponse(f"/sign-in?next={quote(str(request.url.path))}", status_code=303)
    if not principal.has_role(row.id, "specialist"):
        return RedirectResponse(f"/c/{row.slug}/public", status_code=303)
    runtime = get_runtime(request)
    language = request.state.language
    choice = dashboard.choose(dict(request.query_params))
    tiles = (runtime.settings.tile_url, runtime.settings.tile_attribution)
    context = _layout(request, db, principal, row)
    context.update(dashboard.page_data(db, row, choice, language, tiles))
    ctx = CityContext.of(row)
    context["tiles"] = [{"tile": tile, "data": tile.data(db, ctx)} for tile in TILES]
    context["can_act"] = principal.has_role(row.id, "operator")
    return render(request, "utilities/page.html", context)


async def form_csrf(request: Request) -> None:
    """Hand a form's CSRF token to the session check (which runs before the route's body)."""
    form = await request.form()
    token = form.get("csrf_token")
    request.state.form_csrf = token if isinstance(token, str) else None


@router.post(
    "/c/{city}/utilities/incidents/{incident_id}/{action}", dependencies=[Depends(form_csrf)]
)
def incident_action(
    city: str,
    incident_id: int,
    action: str,
    request: Request,
    db: DbSession,
    principal: CurrentPrincipal,
    note: str = Form("", max_length=4000),
) -> Response:
    """Acknowledge or resolve an incident from the page, then go back to it."""
    row = cities.get_city(db, city)
    if not principal.has_role(row.id, "operator") or action not in ACTIONS:
        raise Forbidden(str(_("You have no access to this city.")))
    actor = incidents.Actor(principal.user_id, principal.username)
    try:
        ACTIONS[action](db, CityContext.of(row), incident_id, actor, note)
    except Problem as problem:
        if problem.status != 409:  # already resolved: nothing to do, show the page
            raise
    target = f"/c/{row.slug}/utilities?incident={incident_id}#incident-{incident_id}"
    return RedirectResponse(target, status_code=303)


# --- tiles --------------------------------------------------------------------------------


def open_incidents_tile(db: Session, city: CityContext) -> TileData:
    """Active utility incidents; critical when one of them is high or critical."""
    counts = state.open_incident_counts(db, city.id)
    total = sum(counts.values())
    severe = counts.get("critical", 0) + counts.get("high", 0)
    severity = "critical" if severe else ("warning" if total else "ok")
    caption = str(_("{count} high or critical", count=severe)) if severe else ""
    return TileData(value=total, severity=severity, caption=caption)


def losses_tile(db: Session, city: CityContext) -> TileData:
    """Today's cold-water losses of the city's network, in percent of what was supplied."""
    percent = state.losses_today(db, city)
    if percent is None:
        return TileData(value="—", caption=str(_("No district meters")))
    severity = "critical" if percent >= 25 else ("warning" if percent >= 12 else "ok")
    return TileData(
        value=number(percent), unit="%", severity=severity, caption=str(_("Cold water"))
    )


def silent_tile(db: Session, city: CityContext) -> TileData:
    """Meters that stopped reporting, of all active meters."""
    silent, total = state.silent_count(db, city.id)
    share = silent / total if total else 0.0
    severity = "critical" if share >= 0.2 else ("warning" if silent else "ok")
    return TileData(
        value=silent, severity=severity, caption=str(_("Meters in all: {total}", total=total))
    )


TILES = (
    Tile(
        "utilities.incidents",
        _("Utility incidents"),
        open_incidents_tile,
        link="utilities",
        order=20,
    ),
    Tile("utilities.losses", _("Losses today"), losses_tile, link="utilities#losses", order=21),
    Tile("utilities.silent", _("Meters silent"), silent_tile, link="utilities#map", order=22),
)
