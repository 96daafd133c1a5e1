"""The situational centre in a real browser: sign-in, district map, city and language switch,
alerts, sign-out; the citizen page on a phone. Every page must stay on 127.0.0.1 and load
without console errors or failed requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page, expect

from qala.core.i18n import LazyText
from qala.demo.service import DEMO_PASSWORD

if TYPE_CHECKING:
    from .conftest import BrowserLog, LiveServer

pytestmark = pytest.mark.e2e

NewPage = Callable[..., Page]
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DISTRICTS = "#map path.leaflet-interactive"

# A point where the path itself is hit (so a real mouse over it reaches Leaflet), or null.
INSIDE_POINT = """path => {
  const r = path.getBoundingClientRect();
  for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) {
    const x = r.left + r.width * i / 10, y = r.top + r.height * j / 10;
    if (document.elementFromPoint(x, y) === path) return [x, y];
  }
  return null;
}"""

# How the drawn districts sit in the map box: all inside it, and filling a fair part of it.
DRAWN_EXTENT = """selector => {
  const box = document.getElementById("map").getBoundingClientRect();
  const rects = [...document.querySelectorAll(selector)].map(p => p.getBoundingClientRect());
  const left = Math.min(...rects.map(r => r.left)), right = Math.max(...rects.map(r => r.right));
  const top = Math.min(...rects.map(r => r.top)), bottom = Math.max(...rects.map(r => r.bottom));
  return {inside: left >= box.left - 1 && right <= box.right + 1
                  && top >= box.top - 1 && bottom <= box.bottom + 1,
          share: Math.max((right - left) / box.width, (bottom - top) / box.height)};
}"""


def t(message: str, page: Page) -> str:
    """``message`` in the page's language, from the catalog the server uses."""
    return LazyText(message).in_language(page.locator("html").get_attribute("lang") or "ru")


def district_names(server: LiveServer, slug: str, language: str) -> list[str]:
    """The city's district names, as the public API gives them."""
    body = server.get_json(f"/api/cities/{slug}/districts?lang={language}")
    return sorted(feature["properties"]["name"] for feature in body["features"])


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill and send the real sign-in form."""
    page.goto("/sign-in")
    page.get_by_label(t("Username", page)).fill(username)
    page.get_by_label(t("Password", page)).fill(password)
    page.locator("form.sign-in button[type=submit]").click()


def tooltip_names(page: Page) -> list[str]:
    """Move the mouse over every drawn district and read the tooltip Leaflet shows."""
    names = []
    paths = page.locator(DISTRICTS)
    # Points first: a hovered district is brought to the front, which reorders the paths.
    points = [paths.nth(index).evaluate(INSIDE_POINT) for index in range(paths.count())]
    for index, point in enumerate(points):
        assert point, f"district {index} is drawn nowhere the mouse can reach"
        page.mouse.move(*point)
        # The newest tooltip is the last one; the one before may still be fading out.
        tooltip = page.locator("#map .leaflet-tooltip").last
        expect(tooltip).to_be_visible()
        names.append(tooltip.inner_text().strip())
    page.mouse.move(1, 1)
    return sorted(names)


def expect_city_map(page: Page, server: LiveServer, slug: str) -> None:
    """The map shows exactly the city's districts, named in the page's language, fitted."""
    language = page.locator("html").get_attribute("lang") or "ru"
    expected = district_names(server, slug, language)
    expect(page.locator(DISTRICTS)).to_have_count(len(expected))
    extent = page.evaluate(DRAWN_EXTENT, DISTRICTS)
    assert extent["inside"], "some district is drawn outside the map box"
    assert extent["share"] > 0.5, f"the city fills only {extent['share']:.0%} of the map"
    assert tooltip_names(page) == expected


@pytest.fixture
def operator(new_page: NewPage) -> Page:
    """A desktop page signed in as the demo operator (astana, almaty, stepnogorsk)."""
    page = new_page()
    sign_in(page, "operator", DEMO_PASSWORD)
    page.wait_for_url("**/c/*/")
    return page


def test_operator_signs_in_to_the_situational_centre(
    operator: Page, live_server: LiveServer, browser_log: BrowserLog, snapshot: Any
) -> None:
    page = operator
    slug = page.url.rstrip("/").rsplit("/", 1)[-1]
    assert slug in ("astana", "almaty", "stepnogorsk")
    expect(page.get_by_test_id("username")).to_have_text("operator")
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Situational centre", page))
    expect(page.get_by_test_id("city-switch")).to_have_value(slug)
    expect_city_map(page, live_server, slug)
    no_tiles = page.locator("#map.no-tiles")
    expect(no_tiles).to_have_count(1)  # Settings.tile_url is empty: outlines on a blank map
    expect(page.locator("#map .leaflet-tile")).to_have_count(0)
    alerts = page.get_by_test_id("alerts")
    expect(alerts).to_be_visible()
    expect(alerts.locator("li").first).to_be_visible()  # the feed answered: alerts or "none"
    expect(page.locator(".tiles .tile").first).to_be_visible()
    snapshot(page, "dashboard-desktop")
    browser_log.assert_clean()


def test_city_switch_shows_the_other_citys_districts(
    operator: Page, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    page = operator
    alert_city, severity, alert_text = live_server.alert
    for slug in ("astana", "almaty", "stepnogorsk"):
        page.get_by_test_id("city-switch").select_option(slug)
        page.wait_for_url(f"**/c/{slug}/")
        expect(page.get_by_test_id("city-switch")).to_have_value(slug)
        expect_city_map(page, live_server, slug)
        alerts = page.get_by_test_id("alerts")
        if slug == alert_city:  # the feed shows the city's own alert, and only there
            own = alerts.locator(f"li.alert.severity-{severity}", has_text=alert_text)
            expect(own).to_have_count(1)
        else:  # the demo's modules raise alerts of their own (utility incidents)
            expect(alerts.locator("li").first).to_be_visible()
            expect(alerts).not_to_contain_text(alert_text)
    assert len(district_names(live_server, "astana", "ru")) != len(
        district_names(live_server, "almaty", "ru")
    ), "the demo cities should differ, or this test proves nothing"
    browser_log.assert_clean()


def test_language_links_switch_the_interface(
    operator: Page, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    page = operator
    slug = page.url.split("/c/", 1)[1].split("/", 1)[0]
    for language in ("kk", "en", "ru"):
        page.get_by_test_id(f"lang-{language}").click()
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_test_id(f"lang-{language}")).to_have_attribute("aria-current", "true")
        for selector, message in (
            ("h1", "Situational centre"),
            (".alerts h2", "Alerts"),
            (".account button", "Sign out"),
        ):
            text = LazyText(message).in_language(language)
            expect(page.locator(selector)).to_contain_text(text)
        if language == "kk":  # district names on the map follow the language too
            expect_city_map(page, live_server, slug)
    browser_log.assert_clean()


def test_sign_out_ends_the_session(
    operator: Page, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    page = operator
    dashboard = page.url
    page.locator(".account button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_test_id("sign-in-link")).to_be_visible()
    expect(page.get_by_test_id("username")).to_have_count(0)
    page.goto(dashboard)
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    browser_log.assert_clean()


def test_wrong_password_shows_the_error_on_the_form(
    new_page: NewPage, browser_log: BrowserLog
) -> None:
    page = new_page()
    sign_in(page, "operator", "not-the-password")
    error = page.get_by_test_id("sign-in-error")
    expect(error).to_have_text(t("Wrong username or password.", page))
    assert page.url.endswith("/sign-in")
    expect(page.get_by_label(t("Username", page))).to_have_value("operator")
    expect(page.get_by_test_id("username")).to_have_count(0)
    browser_log.assert_clean(allow=("status of 401",))  # the form answers 401 Unauthorized


def test_citizen_page_on_a_phone(
    new_page: NewPage, live_server: LiveServer, browser_log: BrowserLog, snapshot: Any
) -> None:
    page = new_page(**PHONE)
    page.goto("/c/stepnogorsk/public")
    expect(page.get_by_test_id("sign-in-link")).to_be_visible()
    expect(page.get_by_test_id("map")).to_be_visible()
    expect(page.locator(DISTRICTS)).to_have_count(
        len(district_names(live_server, "stepnogorsk", "ru"))
    )
    extent = page.evaluate(DRAWN_EXTENT, DISTRICTS)
    assert extent["inside"] and extent["share"] > 0.5, extent
    expect(page.locator(".tiles .tile").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a 390px phone"
    snapshot(page, "public-phone")
    browser_log.assert_clean()
