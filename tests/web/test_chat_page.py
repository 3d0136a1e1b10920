""""Test this persona": the chat box against the real brain (FAQ, dialogues), its
conversation kept across messages, its source labels, escaping, CSRF and roles."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient

from tests.web.conftest import Console, csrf_token
from tests.web.speech_services import provide
from web.chat import ChatSessions
from web.expiring import ExpiringDict
from web.state import CHATS, SERVICES


def lines(page: str) -> list[tuple[str, str]]:
    """(speaker, text) of each chat line on the page."""
    return re.findall(r'<span class="who">([^<]+)</span>.*?<p class="text">([^<]*)</p>',
                      page, re.S)


async def send(client: TestClient, message: str, persona: str = "anna") -> str:
    token = await csrf_token(client, f"/chat?persona={persona}")
    response = await client.post("/chat", data={"persona": persona, "message": message,
                                                "csrf_token": token})
    assert response.status == 200  # after the redirect back to the page
    return await response.text()


async def test_conversation_continues_across_messages(admin: TestClient, console: Console,
                                                      tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)
    page = await send(admin, "What is your address?")
    assert lines(page)[-1][0] == "Anna" and "Baker Street" in lines(page)[-1][1]
    assert '<span class="source"' in page and ">faq</span>" in page

    await send(admin, "I'd like to leave a message please")
    page = await send(admin, "My name is John Smith.")
    said = lines(page)
    assert len(said) == 6  # three questions, three answers: one conversation
    assert "number" in said[-1][1].lower()  # the message dialogue goes on
    assert ">flow</span>" in page
    calls = await console.writer.find_calls(limit=5)
    assert [c.channel for c in calls] == ["console"] and calls[0].caller == "console:admin"

    token = await csrf_token(admin, "/chat?persona=anna")
    await admin.post("/chat/reset", data={"persona": "anna", "csrf_token": token})
    assert lines(await (await admin.get("/chat?persona=anna")).text()) == []
    assert (await console.writer.get_call(calls[0].id)).ended_at is not None


async def test_switching_persona_starts_a_new_conversation(admin: TestClient,
                                                           console: Console,
                                                           tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)
    await send(admin, "What is your address?")
    page = await send(admin, "Где вы находитесь?", persona="marina")
    assert len(lines(page)) == 2
    assert len(await console.writer.find_calls(limit=5)) == 2


async def test_script_in_a_message_is_shown_as_text(admin: TestClient, console: Console,
                                                    tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)
    page = await send(admin, "<script>alert('x')</script> where are you?")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


async def test_chat_form_needs_the_csrf_token(admin: TestClient, console: Console,
                                              tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)
    for data in ({"persona": "anna", "message": "hi"},
                 {"persona": "anna", "message": "hi", "csrf_token": "forged"}):
        response = await admin.post("/chat", data=data)
        assert response.status == 403
    assert await console.writer.find_calls(limit=5) == []


async def test_viewer_reads_but_cannot_chat(viewer: TestClient, console: Console,
                                            tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)
    page = await viewer.get("/chat")
    assert page.status == 200 and "an admin can talk" in await page.text()
    token = await csrf_token(viewer, "/chat")
    response = await viewer.post("/chat", data={"persona": "anna", "message": "hi",
                                                "csrf_token": token})
    assert response.status == 403


async def test_before_the_models_load_the_page_says_so(admin: TestClient) -> None:
    page = await admin.get("/chat")
    assert page.status == 503
    assert "still loading" in await page.text()
    token = await csrf_token(admin, "/")
    response = await admin.post("/chat", data={"persona": "anna", "message": "hi",
                                                "csrf_token": token})
    assert response.status == 503


async def test_unknown_persona_and_empty_message(admin: TestClient, console: Console,
                                                 tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)
    token = await csrf_token(admin, "/chat")
    unknown = await admin.post("/chat", data={"persona": "nobody", "message": "hi",
                                              "csrf_token": token})
    empty = await admin.post("/chat", data={"persona": "anna", "message": "  ",
                                            "csrf_token": token})
    assert (unknown.status, empty.status) == (404, 400)


async def test_live_chats_are_bounded_and_expire(console: Console, tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)
    brain = console.client.app[SERVICES].brains["anna"]
    chats = ChatSessions(max_chats=2, idle_s=60)
    first = await chats.start(brain, "t")
    await chats.start(brain, "t")
    await chats.start(brain, "t")  # pushes the least recently used one out, and ends it
    assert await chats.get(first.id, "anna") is None
    assert (await console.writer.get_call(first.conversation.call_id)).ended_at is not None
    assert console.client.app[CHATS] is not chats  # each app has its own

    now = [0.0]
    cache: ExpiringDict[str, int] = ExpiringDict(3, 10.0, clock=lambda: now[0])
    cache.put("a", 1)
    now[0] = 5.0
    assert cache.get("a") == 1  # touching it keeps it
    now[0] = 14.0
    assert cache.get("a") == 1
    now[0] = 30.0
    assert cache.get("a") is None and len(cache) == 0
