"""Browser fixtures: Playwright driving Debian's Chromium against the local stack."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from emulator.harness import Harness
from tests.browser.pages import TIMEOUT_MS

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Without these, Chromium reaches for Google's services, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's own default for expect() is 5 s, which a loaded 2-core CI machine
    # outlasts while nothing is wrong; pages get the same from set_default_timeout.
    expect.set_options(timeout=TIMEOUT_MS)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (Debian's chromium package)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser: Browser, stack: Harness) -> Iterator[Callable[..., Page]]:
    """A page in a fresh context (its own storage, so its own user) on the chat."""
    contexts: list[BrowserContext] = []

    def open_(path: str = "", **options: object) -> Page:
        assert stack.website is not None
        context = browser.new_context(**options)  # type: ignore[arg-type]
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(stack.website.url + path)
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# Records each notification the page shows, then shows it as the browser would.
RECORD_NOTIFICATIONS = """
window.shown = [];
window.Notification = class extends window.Notification {
  constructor(title, options) { super(title, options); window.shown.push(title); }
};
"""


@pytest.fixture
def notifying_page(browser: Browser, stack: Harness) -> Iterator[Page]:
    """A page on the chat whose user has allowed notifications; ``window.shown`` lists them."""
    assert stack.website is not None
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["notifications"], origin=stack.website.url.rstrip("/"))
    context.add_init_script(RECORD_NOTIFICATIONS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(stack.website.url)
    yield page
    context.close()
