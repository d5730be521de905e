"""A real ASGI server (daphne) and a real browser (Debian's Chromium, driven by Playwright)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from channels.testing.live import make_application
from daphne.testing import DaphneProcess
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _forked_server_application() -> Any:
    """The project's ASGI application, as the forked server process builds it.

    Earlier async tests in this process (consumer tests) start asgiref's one thread for
    thread-sensitive code. A forked child inherits that executor but not its thread, so every
    database call a consumer makes would wait forever: give the child a fresh executor.
    """
    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    return make_application(static_wrapper=ASGIStaticFilesHandler)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    """daphne serving the project (HTTP and WebSocket) on a free port, against the test database.

    The server process is forked after the test database exists, so it inherits its name.
    """
    process = DaphneProcess(
        host="127.0.0.1",
        get_application=_forked_server_application,
    )
    # Forked while database access is unblocked, so the server keeps it; the parent does not.
    with django_db_blocker.unblock():
        connections.close_all()  # a forked child must not share the parent's socket
        process.start()
    if not process.ready.wait(timeout=30):
        process.terminate()
        raise RuntimeError("daphne did not start")
    yield f"http://127.0.0.1:{process.port.value}"
    process.terminate()
    process.join(timeout=10)


@pytest.fixture
def browser(live_server_url: str, transactional_db: None, monkeypatch) -> Iterator[Browser]:
    """A fresh Chromium per test, started after the test database and torn down before its flush.

    Playwright's sync API keeps an event loop set on this thread while the browser is open, and
    Django refuses synchronous queries under a running loop. The test's own queries are plain
    synchronous code, so the guard is lifted only while the browser is open.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# Screenshots of each console page at 1280 px, for reviewers: test artifacts, never committed.
SCREENSHOTS_DIR = Path(os.environ.get("TEST_ARTIFACTS_DIR", "var/test-artifacts")) / "screenshots"


def save_screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot of what the page shows now, as `<name>.png` in the artifacts
    folder (TEST_ARTIFACTS_DIR, or var/test-artifacts)."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
