"""Browser fixtures: a live Qala server on a seeded SQLite file, and Chromium through Playwright.

The server always runs on its own SQLite file (whatever ``--db`` says): the browser needs
committed data that a real uvicorn process serves, not a rolled-back test transaction.
Chromium is the Debian package (``/usr/bin/chromium`` or ``QALA_CHROMIUM``); Playwright's own
browser downloads are never used. Without Chromium the tests skip, or fail when ``CI`` is set.
``QALA_E2E_SCREENSHOTS=<folder>`` saves screenshots of the pages for UI work.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from qala.app import create_app
from qala.core.alerts import Alert
from qala.core.db import Database
from qala.core.migrations import upgrade
from qala.core.modules import enabled_modules
from qala.demo import service as demo
from qala.settings import Settings

CHROMIUM = Path(os.environ.get("QALA_CHROMIUM", "/usr/bin/chromium"))
#: Without the background-networking flags Chromium reaches for the network, which is not here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST = "127.0.0.1"
#: One alert in the feed of one city, to see it on that city's screen and on no other.
ALERT = ("astana", "critical", "E2E check: water main burst on Kenesary street")


@dataclass(frozen=True)
class LiveServer:
    """A running Qala: its base URL, the alert it was seeded with, a JSON getter."""

    url: str
    alert: tuple[str, str, str] = ALERT

    def get_json(self, path: str) -> Any:
        """GET ``path`` from the server and decode the JSON answer."""
        response = httpx.get(self.url + path, timeout=10)
        response.raise_for_status()
        return response.json()


def _seed(url: str, settings: Settings) -> None:
    """Migrate, seed the demo data as ``qala demo`` does, and raise one alert."""
    upgrade(url)
    database = Database.from_url(url)
    with database.session() as db:
        seeded = demo.seed_demo(db, enabled_modules(settings.modules))
        slug, severity, text = ALERT
        city = next(city for city in seeded if city.slug == slug)
        db.add(Alert(city_id=city.id, severity=severity, message=text, event_name="E2ECheck"))
        db.commit()
    database.engine.dispose()


def _wait_until_healthy(url: str, thread: threading.Thread, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("the e2e server stopped while starting; see the log above")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the e2e server did not answer {url}/healthz within {timeout:.0f} s")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Qala on a free local port, with the demo data, for the whole session."""
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'qala.sqlite3'}"
    # Explicit values, so a developer's .env or QALA_* variables cannot change what is tested.
    settings = Settings(
        database_url=url,
        var_dir=folder,
        secret_key="e2e-secret-key-0123456789",
        tile_url="",
        default_language="ru",
        modules=(),
        secure_cookies=False,
    )
    _seed(url, settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))  # the server takes the bound socket: no race for the port
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host=HOST, port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://{HOST}:{port}"
    try:
        _wait_until_healthy(base, thread)
        yield LiveServer(base)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _unavailable(reason: str) -> None:
    message = f"e2e browser tests cannot run: {reason}"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright (sync API); never a downloaded browser."""
    if not CHROMIUM.is_file():
        _unavailable(
            f"Chromium not found at {CHROMIUM} (apt-get install chromium, "
            "or point QALA_CHROMIUM at it)"
        )
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class BrowserLog:
    """What went wrong in the browser: console errors, failed or foreign requests, 4xx/5xx."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext) -> None:
        """Record the problems of every page opened in ``context``."""
        context.on("console", self._check_console)
        context.on("weberror", lambda error: self.console_errors.append(str(error.error)))
        context.on("requestfailed", self._check_failure)
        context.on("request", self._check_host)
        context.on("response", self._check_status)

    def _check_console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} at {message.location.get('url')}")

    def _check_status(self, response: Any) -> None:
        # A page itself may answer 4xx on purpose (a refused sign-in); its parts may not.
        if response.status >= 400 and response.request.resource_type != "document":
            self.bad_responses.append(f"{response.status} {response.request.method} {response.url}")

    def _check_failure(self, request: Any) -> None:
        # Leaving a page cancels its pending fetches (the alerts poll): not a failure.
        if request.failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _check_host(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob") and parts.hostname != HOST:
            self.foreign_requests.append(request.url)

    def assert_clean(self, allow: tuple[str, ...] = ()) -> None:
        """Fail with everything that went wrong, but messages containing one of ``allow``."""
        problems = {
            f.name: kept
            for f in fields(self)
            if (kept := [m for m in getattr(self, f.name) if not any(a in m for a in allow)])
        }
        assert not problems, f"browser problems: {problems}"


@pytest.fixture
def browser_log() -> BrowserLog:
    """The problems recorded in this test's browser contexts."""
    return BrowserLog()


@pytest.fixture
def new_page(
    browser: Browser, live_server: LiveServer, browser_log: BrowserLog
) -> Iterator[Callable[..., Page]]:
    """Open a page in a fresh context (own cookies); ``new_page(**context_options)``."""
    contexts: list[BrowserContext] = []

    def factory(**options: Any) -> Page:
        options = {"locale": "ru-RU", "viewport": {"width": 1440, "height": 900}, **options}
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(10_000)
        browser_log.watch(context)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


@pytest.fixture
def snapshot() -> Callable[[Page, str], None]:
    """Save a full-page screenshot when ``QALA_E2E_SCREENSHOTS`` names a folder (for UI work)."""
    folder = os.environ.get("QALA_E2E_SCREENSHOTS")

    def take(page: Page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take
