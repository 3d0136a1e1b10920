"""The ARI client against a local server speaking ARI's HTTP and websocket protocol."""

from __future__ import annotations

import asyncio
import json
from base64 import b64encode

import pytest
from aiohttp import web

from ari_app.client import CONNECTED, AriClient, AriConfig, AriError


@pytest.fixture
async def fake_ari():
    """An ARI look-alike: basic auth, a channel 404, and an events socket that drops once."""
    state = {"connections": 0, "requests": []}

    async def events(request: web.Request) -> web.WebSocketResponse:
        assert request.query["app"] == "secretary"
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        state["connections"] += 1
        await ws.send_str(json.dumps({"type": "StasisStart", "n": state["connections"]}))
        if state["connections"] == 1:
            await ws.send_str("not json")  # survived, logged
            await ws.close()  # the drop
        else:
            await ws.receive()  # until the client goes away
        return ws

    async def channel(request: web.Request) -> web.Response:
        state["requests"].append((request.method, request.path, dict(request.query)))
        if request.headers.get("Authorization", "") != "Basic " + b64encode(b"u:p").decode():
            return web.json_response({"message": "Authentication required"}, status=401)
        return web.json_response({"message": "Channel not found"}, status=404)

    async def answer(request: web.Request) -> web.Response:
        state["requests"].append((request.method, request.path, dict(request.query)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/ari/events", events)
    app.router.add_get("/ari/channels/{id}", channel)
    app.router.add_post("/ari/channels/{id}/answer", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/ari", state
    await runner.cleanup()


async def test_rest_errors_carry_status_and_message(fake_ari) -> None:
    url, state = fake_ari
    async with AriClient(AriConfig(url, "u", "p", "secretary")) as client:
        with pytest.raises(AriError) as info:
            await client.get_channel("nope")
        assert info.value.status == 404
        assert "Channel not found" in str(info.value)
        assert await client.answer("c1") is None
    async with AriClient(AriConfig(url, "u", "wrong", "secretary")) as client:
        with pytest.raises(AriError) as info:
            await client.get_channel("nope")
        assert info.value.status == 401
    assert ("POST", "/ari/channels/c1/answer", {}) in state["requests"]


async def test_events_reconnect_after_the_websocket_drops(fake_ari) -> None:
    url, state = fake_ari
    config = AriConfig(url, "u", "p", "secretary", reconnect_initial_s=0.01)
    seen = []
    async with AriClient(config) as client:
        stream = client.events()

        async def collect() -> None:
            async for event in stream:
                seen.append(event)
                if len(seen) == 4:
                    return

        await asyncio.wait_for(collect(), 10)
        await stream.aclose()
    assert seen == [
        {"type": CONNECTED, "reconnect": False},
        {"type": "StasisStart", "n": 1},
        {"type": CONNECTED, "reconnect": True},
        {"type": "StasisStart", "n": 2},
    ]
    assert state["connections"] == 2


async def test_events_keep_retrying_while_ari_is_down(unused_tcp_port: int) -> None:
    config = AriConfig(f"http://127.0.0.1:{unused_tcp_port}/ari", "u", "p", "secretary",
                       reconnect_initial_s=0.01, reconnect_max_s=0.05)
    async with AriClient(config) as client:
        stream = client.events()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stream.__anext__(), 0.5)
