"""The website widget over HTTP, against the real console, database and brains (FAQ
answers need no LLM): instances managed in the admin (auth, CSRF, viewers read), CORS per
instance, the public chat (streamed replies, history, limits), session ids that only ever
open widget conversations, and a hand-off to the owner and back."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from channels.widget.ratelimit import WidgetLimits
from tests.web.conftest import (
    ADMIN,
    VIEWER,
    Console,
    csrf_token,
    login,
    running_console,
)
from tests.web.widget_support import (
    SITE,
    create_widget,
    lend_brains,
    new_session,
    parse_events,
    said,
    say,
    send,
)
from web.state import SERVICES, STORE


@pytest.fixture
async def widget_console(tmp_path: Path) -> AsyncIterator[Console]:
    limits = WidgetLimits(messages_per_session=4, messages_per_ip=100, sessions_per_ip=20)
    async with running_console(tmp_path, widget_limits=limits) as running:
        lend_brains(running)
        yield running


@pytest.fixture
async def widget_admin(widget_console: Console) -> TestClient:
    assert (await login(widget_console.client, *ADMIN)).status == 303
    return widget_console.client


# ---- the admin side ------------------------------------------------------------------

async def test_admin_creates_edits_and_deletes_a_widget(widget_admin: TestClient) -> None:
    client = widget_admin
    widget_id, public_id = await create_widget(
        client, origins="https://WWW.Example-Clinic.com:443/\nhttp://localhost:8080")
    page = await (await client.get(f"/widgets/{widget_id}")).text()
    shown = html.unescape(page)
    assert re.search(r'<script src="http://127\.0\.0\.1:\d+/widget/' + public_id
                     + r'/widget\.js" async></script>', shown), shown
    assert f"/widget.js?id={public_id}" in page
    # Origins are kept as a browser sends them: lowercase, no default port, no path.
    assert "https://www.example-clinic.com, http://localhost:8080" in page
    listing = await (await client.get("/widgets")).text()
    assert "Clinic site" in listing and public_id in listing

    token = await csrf_token(client, f"/widgets/{widget_id}")
    response = await client.post(f"/widgets/{widget_id}", allow_redirects=False, data={
        "name": "Renamed", "persona": "marina", "greeting": "Здравствуйте!",
        "accent_color": "#112233", "text_color": "#ffffff", "position": "bottom-left",
        "allowed_origins": SITE, "csrf_token": token})
    assert response.status == 303
    config = await client.get(f"/widget/{public_id}/config", headers={"Origin": SITE})
    assert config.status == 200
    assert await config.json() == {
        "id": public_id, "name": "Renamed", "greeting": "Здравствуйте!",
        "accent_color": "#112233", "text_color": "#ffffff", "position": "bottom-left",
        "max_message_chars": 1000, "poll_ms": 3000}

    response = await client.post(f"/widgets/{widget_id}/delete", allow_redirects=False,
                                 data={"csrf_token": token})
    assert response.status == 303
    assert (await client.get(f"/widgets/{widget_id}")).status == 404
    assert (await client.get(f"/widget/{public_id}/widget.js")).status == 404


async def test_bad_settings_are_refused_with_the_reason(widget_admin: TestClient) -> None:
    token = await csrf_token(widget_admin, "/widgets")
    base = {"name": "x", "persona": "anna", "greeting": "Hi", "accent_color": "#000000",
            "text_color": "#ffffff", "position": "bottom-right", "csrf_token": token}
    for change, reason in (({"allowed_origins": "https://example.com/page"}, "is not an origin"),
                           ({"allowed_origins": "ftp://example.com"}, "is not an origin"),
                           ({"persona": "nobody"}, "persona must be one of"),
                           ({"accent_color": "red"}, "accent colour"),
                           ({"position": "top"}, "position must be")):
        response = await widget_admin.post("/widgets", data={**base, **change})
        assert response.status == 400
        assert reason in await response.text()


async def test_changing_widgets_needs_an_admin_and_a_csrf_token(widget_console: Console) -> None:
    client = widget_console.client
    assert (await login(client, *ADMIN)).status == 303
    widget_id, _ = await create_widget(client)
    no_token = await client.post("/widgets", allow_redirects=False, data={
        "name": "x", "persona": "anna", "greeting": "Hi", "accent_color": "#000000",
        "text_color": "#ffffff", "position": "bottom-right", "allowed_origins": ""})
    assert no_token.status == 403

    viewer = widget_console.new_client()
    async with viewer:
        assert (await login(viewer, *VIEWER)).status == 303
        page = await viewer.get(f"/widgets/{widget_id}")
        assert page.status == 200
        assert "Clinic site" in await page.text()
        token = await csrf_token(viewer, "/widgets")
        for path in ("/widgets", f"/widgets/{widget_id}", f"/widgets/{widget_id}/delete"):
            response = await viewer.post(path, data={"csrf_token": token, "name": "x"},
                                         allow_redirects=False)
            assert response.status == 403, path

    anonymous = widget_console.new_client()
    async with anonymous:
        response = await anonymous.get("/widgets", allow_redirects=False)
        assert response.status == 303 and "/login" in response.headers["Location"]


# ---- CORS ------------------------------------------------------------------------------

async def test_cors_lets_in_only_the_allowed_origins(widget_admin: TestClient) -> None:
    client = widget_admin
    _, public_id = await create_widget(client)
    allowed = await client.get(f"/widget/{public_id}/config", headers={"Origin": SITE})
    assert allowed.status == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == SITE
    assert "Origin" in allowed.headers["Vary"]

    for origin in ("https://evil.example", "http://www.example-clinic.com",
                   "https://www.example-clinic.com:8443"):
        refused = await client.get(f"/widget/{public_id}/config", headers={"Origin": origin})
        assert refused.status == 403
        assert "Access-Control-Allow-Origin" not in refused.headers
        refused = await client.post(f"/widget/{public_id}/sessions", json={},
                                    headers={"Origin": origin})
        assert refused.status == 403
        assert "Access-Control-Allow-Origin" not in refused.headers

    preflight = await client.options(f"/widget/{public_id}/sessions", headers={
        "Origin": SITE, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    refused = await client.options(f"/widget/{public_id}/sessions", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers

    session = await new_session(client, public_id)
    preflight = await client.options(f"/widget/chat/session/{session}/messages", headers={
        "Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    refused = await send(client, session, "Where are you located?", "https://evil.example")
    assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers
    history = await client.get(f"/widget/chat/session/{session}",
                               headers={"Origin": "https://evil.example"})
    assert history.status == 403
    # A POST without any Origin is not a browser on an allowed site.
    no_origin = await client.post(f"/widget/chat/session/{session}/messages",
                                  json={"text": "hi"})
    assert no_origin.status == 403


async def test_the_script_is_served_for_known_widgets_only(widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    for path in (f"/widget/{public_id}/widget.js", f"/widget.js?id={public_id}"):
        response = await widget_admin.get(path)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "attachShadow" in await response.text()
    assert (await widget_admin.get("/widget/AAAAAAAAAAAAAAAA/widget.js")).status == 404
    assert (await widget_admin.get("/widget.js?id=../../etc")).status == 404


# ---- the visitor's chat ---------------------------------------------------------------

async def test_a_faq_question_streams_its_answer_and_is_kept(widget_console: Console,
                                                           widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    visitor = widget_console.new_client()  # no console login: the public side
    async with visitor:
        session = await new_session(visitor, public_id)
        events = await say(visitor, session, "Where are you located?")
        assert "Baker Street" in said(events)
        assert events[-1][0] == "done"
        last = events[-1][1]["last"]

        history = await visitor.get(f"/widget/chat/session/{session}",
                                    headers={"Origin": SITE})
        assert history.status == 200
        assert history.headers["Access-Control-Allow-Origin"] == SITE
        body = await history.json()
        assert [i["role"] for i in body["items"]] == ["visitor", "assistant"]
        assert body["items"][0]["text"] == "Where are you located?"
        assert "Baker Street" in body["items"][1]["text"]
        assert body["last"] == last and body["handed_off"] is False
        after = await (await visitor.get(f"/widget/chat/session/{session}?after={last}")).json()
        assert after["items"] == [] and after["last"] == last
        assert (await visitor.get(f"/widget/chat/session/{session}?after=x")).status == 400

    # The conversation is stored through the brain, beside the calls.
    store = widget_console.client.app[STORE]
    call = await store.latest_call(channel="widget")
    assert call is not None and call.external_id == session
    assert call.caller == "widget:Clinic site" and call.persona == "anna"
    calls_page = await (await widget_admin.get("/calls")).text()
    assert "widget:Clinic site" in calls_page
    assert "widget:Clinic site" in await (await widget_admin.get("/calls?channel=widget")).text()
    assert "widget:Clinic site" not in await (await widget_admin.get("/calls?channel=phone")).text()


async def test_html_in_a_message_is_kept_and_returned_as_plain_text(
        widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    session = await new_session(widget_admin, public_id)
    text = '<img src=x onerror="alert(1)"><b>Where</b> are you located?'
    await say(widget_admin, session, text)
    body = await (await widget_admin.get(f"/widget/chat/session/{session}")).json()
    assert body["items"][0] == {"id": body["items"][0]["id"], "role": "visitor", "text": text}
    page = await (await widget_admin.get(f"/widgets/sessions/{session}")).text()
    assert "<img src=x" not in page and "&lt;img src=x" in page


async def test_message_size_and_rate_limits(widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    session = await new_session(widget_admin, public_id)
    too_long = await send(widget_admin, session, "a" * 1001)
    assert too_long.status == 413
    assert too_long.headers["Access-Control-Allow-Origin"] == SITE
    assert "at most 1000 characters" in (await too_long.json())["error"]
    empty = await send(widget_admin, session, "   ")
    assert empty.status == 400
    not_json = await widget_admin.post(f"/widget/chat/session/{session}/messages",
                                       data=b"{nope", headers={"Origin": SITE,
                                                               "Content-Type": "application/json"})
    assert not_json.status == 400 and "error" in await not_json.json()
    huge = await widget_admin.post(f"/widget/chat/session/{session}/messages",
                                   data=b"x" * 40_000, headers={"Origin": SITE})
    assert huge.status == 413

    # The fixture allows 4 messages per session a minute; the ones above counted.
    limited = await send(widget_admin, session, "Where are you located?")
    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["Access-Control-Allow-Origin"] == SITE
    assert "error" in await limited.json()
    other = await new_session(widget_admin, public_id)  # another visitor is not held up
    assert "Baker Street" in said(await say(widget_admin, other, "Where are you located?"))

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length to refuse up front
        for _ in range(40):
            yield b"x" * 1000

    huge = await widget_admin.post(f"/widget/chat/session/{other}/messages", data=chunked(),
                                   headers={"Origin": SITE})
    assert huge.status == 413


async def test_new_sessions_per_address_are_limited(tmp_path: Path) -> None:
    limits = WidgetLimits(sessions_per_ip=2)
    async with running_console(tmp_path, widget_limits=limits) as console:
        lend_brains(console)
        assert (await login(console.client, *ADMIN)).status == 303
        _, public_id = await create_widget(console.client)
        for _ in range(2):
            await new_session(console.client, public_id)
        refused = await console.client.post(f"/widget/{public_id}/sessions", json={},
                                            headers={"Origin": SITE})
        assert refused.status == 429 and refused.headers["Retry-After"]


async def test_only_widget_sessions_are_ever_shown(widget_console: Console,
                                                   widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    store = widget_console.writer
    now = datetime.now(UTC)
    # Ids of other channels' conversations, shaped exactly like a widget session id.
    phone_id, telegram_id, console_id = (secrets.token_urlsafe(32) for _ in range(3))
    for channel, external_id in (("phone", phone_id), ("telegram", telegram_id),
                                 ("console", console_id)):
        call = await store.start_call(channel=channel, external_id=external_id,
                                      caller="+79123456789", persona="anna", started_at=now)
        await store.add_turn(call, role="caller", text="my secret", started_at=now)
    visitor = widget_console.new_client()
    async with visitor:
        real = await new_session(visitor, public_id)
        for session_id in (phone_id, telegram_id, console_id, secrets.token_urlsafe(32),
                           "short", real + "x", real[:-1] + "*", "..%2F..%2Fetc",
                           "a" * 43 + "%00"):
            response = await visitor.get(f"/widget/chat/session/{session_id}",
                                         headers={"Origin": SITE})
            assert response.status == 404, session_id
            assert "my secret" not in await response.text()
            posted = await send(visitor, session_id, "hello")
            assert posted.status == 404, session_id
        assert (await visitor.get(f"/widget/chat/session/{real}")).status == 200


async def test_hand_off_to_the_owner_and_back(widget_console: Console,
                                              widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    visitor = widget_console.new_client()
    async with visitor:
        session = await new_session(visitor, public_id)
        events = await say(visitor, session, "Can I talk to a real person please?")
        assert [name for name, _ in events][-2:] == ["handoff", "done"]
        history = await (await visitor.get(f"/widget/chat/session/{session}")).json()
        assert history["handed_off"] is True
        last = history["last"]

        # The owner sees it waiting, on the dashboard and the widget page.
        dashboard = await (await widget_admin.get("/")).text()
        assert "Website chats waiting for you" in dashboard
        assert f"/widgets/sessions/{session}" in dashboard
        assert "asked for reception" in dashboard

        # While handed off the secretary is quiet: the visitor's message waits.
        events = await say(visitor, session, "Where are you located?")
        assert [name for name, _ in events] == ["queued", "done"]
        last = events[-1][1]["last"]

        page = await widget_admin.get(f"/widgets/sessions/{session}")
        assert "Where are you located?" in await page.text()
        token = await csrf_token(widget_admin, f"/widgets/sessions/{session}")
        no_token = await widget_admin.post(f"/widgets/sessions/{session}/reply",
                                           data={"text": "hi"}, allow_redirects=False)
        assert no_token.status == 403
        reply = await widget_admin.post(f"/widgets/sessions/{session}/reply",
                                        data={"text": "We're at 221B, <b>come in</b>!",
                                              "csrf_token": token}, allow_redirects=False)
        assert reply.status == 303
        assert "Website chats waiting" not in await (await widget_admin.get("/")).text()

        news = await (await visitor.get(f"/widget/chat/session/{session}?after={last}",
                                        headers={"Origin": SITE})).json()
        assert [(i["role"], i["text"]) for i in news["items"]] == [
            ("owner", "We're at 221B, <b>come in</b>!")]

        # Handed back, the secretary answers again.
        released = await widget_admin.post(f"/widgets/sessions/{session}/release",
                                           data={"csrf_token": token}, allow_redirects=False)
        assert released.status == 303
        assert "Baker Street" in said(await say(visitor, session, "Where are you located?"))


async def test_the_talk_to_a_human_button(widget_console: Console,
                                          widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    session = await new_session(widget_admin, public_id)
    response = await widget_admin.post(f"/widget/chat/session/{session}/handoff", json={},
                                       headers={"Origin": SITE})
    assert response.status == 200
    assert (await response.json())["handed_off"] is True
    listing = await (await widget_admin.get("/widgets")).text()
    assert "pressed “Talk to a human”" in listing
    assert "waiting for a person" in listing
    events = parse_events(await (await send(widget_admin, session, "hello?")).text())
    assert events[0][0] == "queued"


async def test_no_brain_loaded_is_a_clear_503(widget_console: Console,
                                              widget_admin: TestClient) -> None:
    _, public_id = await create_widget(widget_admin)
    widget_console.client.app[SERVICES].brains = {}  # the models are still loading
    response = await widget_admin.post(f"/widget/{public_id}/sessions", json={},
                                       headers={"Origin": SITE})
    assert response.status == 503
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert "not available" in (await response.json())["error"]
