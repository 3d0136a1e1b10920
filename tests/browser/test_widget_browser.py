"""The website widget as a visitor meets it, in headless Chromium: a host site on another
origin (a second local server) embeds the snippet; the visitor opens the widget, asks a
question and sees the answer stream in; the conversation and the open panel survive a
reload and a move to another page; another browser profile starts afresh; ids of other
channels' conversations are refused; a site that is not allowed gets no widget; the
panel fills a phone's screen; and a person's answer after a hand-off reaches the open
panel. Screenshots go to the browser tests' folder."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Locator, Page, expect

from tests.web.conftest import ADMIN, Console, closed_port, csrf_token, login, running_console
from tests.web.widget_support import create_widget, lend_brains

# A host page whose own CSS would wreck an unprotected widget.
HOST_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body {{ font: 30px/3 Georgia, serif; color: #c00; background: #ffe; }}
  button {{ display: none !important; }}
  div {{ border: 5px dashed red !important; }}
</style></head>
<body><h1>{title}</h1><p>Welcome to the clinic's site.</p>
<a id="next" href="/{other}">Go to {other}</a>
{snippet}
</body></html>"""


@dataclass(frozen=True)
class Setup:
    console: Console
    site: str  # http://127.0.0.1:<port>, the allowed origin
    public_id: str


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with running_console(tmp_path) as console:
        lend_brains(console)
        assert (await login(console.client, *ADMIN)).status == 303
        base = str(console.client.make_url("/")).rstrip("/")
        port = closed_port()  # the site's origin must be allowed before the site serves
        site = f"http://127.0.0.1:{port}"
        _, public_id = await create_widget(console.client, origins=site)
        runner = await host_site(port, f'<script src="{base}/widget/{public_id}/widget.js" '
                                       'async></script>')
        try:
            yield Setup(console, site, public_id)
        finally:
            await runner.cleanup()


async def host_site(port: int, snippet: str) -> web.AppRunner:
    """The site that embeds the widget: two pages linking to each other."""
    async def page(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        other = "prices" if name == "about" else "about"
        return web.Response(text=HOST_PAGE.format(title=name.title(), other=other,
                                                  snippet=snippet),
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name:about|prices}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def widget(page: Page) -> Locator:
    return page.locator("[data-aisec-widget]")


async def ready(page: Page) -> None:
    await expect(page.locator("[data-aisec-widget][data-ready=true]")).to_have_count(1)


async def test_a_visitor_chats_across_pages(browser: Browser, setup: Setup,
                                            artifacts: Path) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await page.goto(setup.site + "/about")
    await ready(page)
    launcher = page.get_by_role("button", name=re.compile("^Open chat"))
    await expect(launcher).to_be_visible()  # the host's `button {display: none}` can't reach
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_hidden()
    await launcher.click()
    await expect(dialog).to_be_visible()
    message = page.get_by_label("Your message")
    await expect(message).to_be_focused()
    await expect(page.locator(".msg.assistant").first).to_have_text("Hi! Ask me anything.")

    async with page.expect_response(re.compile(r"/messages$")) as streamed:
        await message.fill("Where are you located?")
        await message.press("Enter")
    response = await streamed.value
    assert response.headers["content-type"].startswith("text/event-stream")
    await expect(page.locator(".msg.assistant").nth(1)).to_contain_text("Baker Street")
    await expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")
    await page.screenshot(path=str(artifacts / "widget_open.png"))

    stored = await page.evaluate("""(key) => ({cookie: document.cookie,
        local: localStorage.getItem(key), open: sessionStorage.getItem(key + '-open')})""",
                                 f"aisec-widget-{setup.public_id}")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", stored["local"])
    assert stored["open"] == "1"
    # Chromium keeps a Secure cookie on http://127.0.0.1 (a potentially trustworthy origin).
    assert f"aisec-widget-{setup.public_id}={stored['local']}" in stored["cookie"]

    for move in ("reload", "navigate"):
        if move == "reload":
            await page.reload()
        else:
            await page.click("#next")
            await expect(page).to_have_url(setup.site + "/prices")
        await ready(page)
        await expect(dialog).to_be_visible()  # still open
        await expect(page.locator(".msg.visitor")).to_have_text(["Where are you located?"])
        await expect(page.locator(".msg.assistant").nth(1)).to_contain_text("Baker Street")

    # Esc closes the panel and gives the focus back to the launcher; it stays closed.
    await message.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("button", name=re.compile("^Open chat"))).to_be_focused()
    await page.reload()
    await ready(page)
    await expect(dialog).to_be_hidden()

    # HTML a visitor types is shown as text.
    await page.get_by_role("button", name=re.compile("^Open chat")).click()
    await message.fill("<b>bold</b> <img src=x onerror=alert(1)>")
    await message.press("Enter")
    await expect(page.locator(".msg.visitor").last).to_have_text(
        "<b>bold</b> <img src=x onerror=alert(1)>")
    assert await widget(page).locator("img").count() == 0

    # Another browser profile is another visitor: nothing of the first one's chat.
    other = await browser.new_context()
    try:
        stranger = await other.new_page()
        await stranger.goto(setup.site + "/about")
        await ready(stranger)
        await stranger.get_by_role("button", name=re.compile("^Open chat")).click()
        await expect(stranger.locator(".msg.assistant")).to_have_count(1)  # the greeting
        await expect(stranger.locator(".msg.visitor")).to_have_count(0)
    finally:
        await other.close()
    await context.close()


async def test_other_channels_ids_are_refused(browser: Browser, setup: Setup) -> None:
    now = datetime.now(UTC)
    phone_id = secrets.token_urlsafe(32)
    call = await setup.console.writer.start_call(channel="phone", external_id=phone_id,
                                                 caller="+79123456789", persona="anna",
                                                 started_at=now)
    await setup.console.writer.add_turn(call, role="caller", text="my card is 4111",
                                        started_at=now)
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(setup.site + "/about")
        base = str(setup.console.client.make_url("/")).rstrip("/")
        status = await page.evaluate(
            "async (url) => (await fetch(url)).status",
            f"{base}/widget/chat/session/{phone_id}")
        assert status == 404
        # Planted as the visitor's session, it shows nothing and is forgotten.
        key = f"aisec-widget-{setup.public_id}"
        await page.evaluate("([key, id]) => localStorage.setItem(key, id)", [key, phone_id])
        await page.reload()
        await ready(page)
        await page.get_by_role("button", name=re.compile("^Open chat")).click()
        await expect(page.locator(".msg.visitor")).to_have_count(0)
        assert "4111" not in await widget(page).inner_text()
        assert await page.evaluate("(key) => localStorage.getItem(key)", key) is None
    finally:
        await context.close()


async def test_a_site_not_allowed_gets_no_widget(browser: Browser, setup: Setup) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        # The same pages, from an origin the widget does not allow (localhost, not
        # 127.0.0.1): the settings are refused, so nothing is added to the page.
        other_origin = setup.site.replace("127.0.0.1", "localhost")
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text))
        # A 403 without CORS headers is, to the page, a failed request.
        async with page.expect_event("requestfailed",
                                     lambda request: request.url.endswith("/config")):
            await page.goto(other_origin + "/about")
        await page.wait_for_load_state("networkidle")
        assert any("blocked by CORS policy" in text for text in blocked), blocked
        await expect(widget(page)).to_have_count(0)
    finally:
        await context.close()


async def test_the_panel_fills_a_phone_screen(browser: Browser, setup: Setup,
                                              artifacts: Path) -> None:
    context = await browser.new_context(viewport={"width": 375, "height": 700},
                                        is_mobile=True, has_touch=True)
    try:
        page = await context.new_page()
        await page.goto(setup.site + "/about")
        await ready(page)
        await page.get_by_role("button", name=re.compile("^Open chat")).click()
        box = await page.get_by_role("dialog").bounding_box()
        assert box is not None and box["width"] == 375 and box["x"] == 0
        await page.screenshot(path=str(artifacts / "widget_mobile.png"))
    finally:
        await context.close()


async def test_a_person_answers_after_a_hand_off(browser: Browser, setup: Setup) -> None:
    context = await browser.new_context()
    context.set_default_timeout(15_000)
    try:
        page = await context.new_page()
        await page.goto(setup.site + "/about")
        await ready(page)
        await page.get_by_role("button", name=re.compile("^Open chat")).click()
        await page.get_by_role("button", name="Talk to a human").click()
        await expect(page.locator(".msg.system")).to_contain_text("A person has been told")

        session = await page.evaluate("(key) => localStorage.getItem(key)",
                                      f"aisec-widget-{setup.public_id}")
        admin = setup.console.client
        token = await csrf_token(admin, f"/widgets/sessions/{session}")
        reply = await admin.post(f"/widgets/sessions/{session}/reply", allow_redirects=False,
                                 data={"text": "Hello, this is Dr Watson.",
                                       "csrf_token": token})
        assert reply.status == 303
        # The open panel polls every few seconds and shows the person's answer.
        await expect(page.locator(".msg.owner .text")).to_have_text(
            "Hello, this is Dr Watson.", timeout=10_000)
    finally:
        await context.close()
