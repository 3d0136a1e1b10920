"""Helpers for the widget tests (HTTP and browser): a console whose personas answer (FAQ
only, no LLM), widget instances made through the admin form, visitor requests with an
Origin, and server-sent events read back."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from tests.web.conftest import Console, csrf_token
from tests.web.speech_services import brains
from web.state import SERVICES

PUBLIC_ID = re.compile(r"/widget/([A-Za-z0-9_-]{12,32})/widget\.js")
SITE = "https://www.example-clinic.com"


def lend_brains(console: Console) -> None:
    """What the phone process does once its models are loaded (FAQ answers; no LLM)."""
    console.client.app[SERVICES].provide(brains=brains(console.writer))


async def create_widget(client: TestClient, *, origins: str = SITE, name: str = "Clinic site",
                        persona: str = "anna", **fields: str) -> tuple[int, str]:
    """Through the admin form; returns the instance's row id and public id."""
    data = {"name": name, "persona": persona, "greeting": "Hi! Ask me anything.",
            "accent_color": "#0a7d5a", "text_color": "#ffffff", "position": "bottom-right",
            "allowed_origins": origins, "csrf_token": await csrf_token(client, "/widgets"),
            **fields}
    response = await client.post("/widgets", data=data, allow_redirects=False)
    assert response.status == 303, await response.text()
    widget_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = await (await client.get(f"/widgets/{widget_id}")).text()
    found = PUBLIC_ID.search(page)
    assert found, page
    return widget_id, found.group(1)


async def new_session(client: TestClient, public_id: str, origin: str = SITE) -> str:
    response = await client.post(f"/widget/{public_id}/sessions", json={},
                                 headers={"Origin": origin})
    assert response.status == 201, await response.text()
    return str((await response.json())["session"])


def parse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def send(client: TestClient, session: str, text: str,
               origin: str = SITE) -> ClientResponse:
    return await client.post(f"/widget/chat/session/{session}/messages", json={"text": text},
                             headers={"Origin": origin})


async def say(client: TestClient, session: str, text: str,
              origin: str = SITE) -> list[tuple[str, dict[str, Any]]]:
    response = await send(client, session, text, origin)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return parse_events(await response.text())


def said(events: list[tuple[str, dict[str, Any]]]) -> str:
    return " ".join(data["text"] for name, data in events if name == "say")
