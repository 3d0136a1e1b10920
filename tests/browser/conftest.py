"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, against
the same real console the HTTP tests use (tests/web/conftest.py: server, database, users,
seeded calls with recordings). Screenshots of the main pages go to
$SECRETARY_TEST_ARTIFACTS (default <repo>/test-artifacts/screenshots)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

# The console fixtures, shared rather than copied: pytest finds fixtures a conftest imports.
from tests.web.conftest import console, no_errors_logged, seeded  # noqa: F401

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: install Debian's chromium "
                                   "(scripts/bootstrap.sh does) to run the browser tests")
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.filterwarnings(
                "ignore::aiohttp.web_exceptions.NotAppKeyWarning"))
            if not CHROMIUM.exists():
                item.add_marker(skip)


@pytest.fixture
def artifacts() -> Path:
    folder = Path(os.environ.get("SECRETARY_TEST_ARTIFACTS")
                  or REPO / "test-artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    # launch() gives every browser a fresh, throw-away profile directory of its own.
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                    args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield await context.new_page()
    finally:
        await context.close()
