"""The utilities screen in a real browser: the operator opens it from the situational centre,
sees meters and incidents on the map, consumption charts, losses, and takes an incident into
work; the same screen on a phone. No console errors, nothing fetched from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page, expect

from qala.core.i18n import LazyText
from qala.demo.service import DEMO_PASSWORD

if TYPE_CHECKING:
    from .conftest import BrowserLog

pytestmark = pytest.mark.e2e

NewPage = Callable[..., Page]
POSITIVE = re.compile(r"^[1-9]\d*$")
CITY = "stepnogorsk"  # the demo operator's city with the biggest utilities demo
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def t(message: str, page: Page) -> str:
    """``message`` in the page's language, from the catalog the server uses."""
    return LazyText(message).in_language(page.locator("html").get_attribute("lang") or "ru")


def signed_in(new_page: NewPage, **options: Any) -> Page:
    page = new_page(**options)
    page.goto("/sign-in")
    page.get_by_label(t("Username", page)).fill("operator")
    page.get_by_label(t("Password", page)).fill(DEMO_PASSWORD)
    page.locator("form.sign-in button[type=submit]").click()
    page.wait_for_url("**/c/*/")
    return page


def test_operator_sees_meters_and_incidents_and_takes_one(
    new_page: NewPage, browser_log: BrowserLog, snapshot: Any
) -> None:
    page = signed_in(new_page)
    page.goto(f"/c/{CITY}/")
    page.locator('[data-tile="utilities.incidents"] a').click()
    page.wait_for_url(f"**/c/{CITY}/utilities")
    expect(page.get_by_role("heading", level=1)).to_contain_text(t("Housing & utilities", page))
    the_map = page.get_by_test_id("utilities-map")
    expect(the_map).to_have_attribute("data-markers", POSITIVE)
    expect(page.locator("#utilities-map path.ut-building-marker").first).to_be_visible()
    expect(page.locator("#utilities-map path.ut-incident-marker").first).to_be_visible()
    incidents = page.get_by_test_id("incidents").locator("li")
    expect(incidents.first).to_be_visible()
    assert incidents.count() >= 3  # the demo's leak, silent meter and district outage
    expect(page.get_by_test_id("consumption").locator("svg.chart rect").first).to_be_attached()
    expect(page.get_by_test_id("losses")).to_contain_text("%")
    snapshot(page, "utilities-desktop")
    first = incidents.first
    number = first.get_attribute("data-incident")
    first.locator('[data-action="acknowledge"]').click()
    page.wait_for_url(f"**/c/{CITY}/utilities?incident={number}*")
    taken = page.locator(f"#incident-{number}")
    expect(taken).to_have_class(re.compile(r"(^|\s)status-acknowledged(\s|$)"))
    expect(taken).to_contain_text(t("In progress", page))
    expect(taken.locator('[data-action="acknowledge"]')).to_have_count(0)
    browser_log.assert_clean()


def test_the_screen_works_on_a_phone(
    new_page: NewPage, browser_log: BrowserLog, snapshot: Any
) -> None:
    page = signed_in(new_page, **PHONE)
    page.goto(f"/c/{CITY}/utilities?lang=kk")
    expect(page.locator("html")).to_have_attribute("lang", "kk")
    expect(page.get_by_role("heading", level=1)).to_contain_text("ТКШ")
    expect(page.get_by_test_id("incidents").locator("li").first).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the phone"
    page.get_by_test_id("filters").locator("select[name=resource]").select_option("heat")
    page.get_by_test_id("filters").locator("button[type=submit]").click()
    page.wait_for_url("**resource=heat**")
    expect(page.get_by_test_id("consumption")).to_contain_text("Gcal")
    snapshot(page, "utilities-phone")
    browser_log.assert_clean()
