"""The web chat under test: the real aiohttp app on a free port, and headless Chromium driven by selenium.

Chromium and chromedriver come from Debian (`bin/setup browser`, which `make test` runs).
Screenshots are kept under var/artifacts/screenshots/ and listed at the end of the run.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "screenshots"
# The desk has no network: without these Chromium keeps calling Google services and floods refused connections.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=412,915", "--lang=vi",
)
_taken: list[Path] = []


class LiveServer:
    """Serves an aiohttp app from a background thread, so a synchronous browser can talk to it."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1"):
        self.app = app
        self.host = host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="web-chat-server", daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self.app, access_log=None)
        try:
            self._loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, 0)
            self._loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as e:  # reported by __enter__ in the test's thread
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> LiveServer:
        self._thread.start()
        self._ready.wait(30)
        if self._error or not self.port:
            raise RuntimeError(f"the web chat did not start on {self.host}") from self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


@pytest.fixture(scope="module")
def live_server(assistant) -> Iterator[LiveServer]:
    with LiveServer(create_app(assistant)) as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Chromium with a fresh profile; selenium is given the driver so it never looks for one online."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail(
            f"the browser tests need {CHROMIUM} and {CHROMEDRIVER}: run `make browser` "
            "(apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot(browser, request):
    """screenshot("step") saves the page as var/artifacts/screenshots/<test>-<step>.png and answers the path."""

    def take(step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{request.node.name}-{step}").strip("-")
        path = SCREENSHOTS / f"{name}.png"
        browser.save_screenshot(str(path))
        _taken.append(path)
        return path

    return take


def pytest_terminal_summary(terminalreporter) -> None:
    if _taken:
        terminalreporter.section("web chat screenshots")
        for path in _taken:
            terminalreporter.write_line(str(path))
