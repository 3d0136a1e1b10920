"""`/api/v1/calls`, `/api/v1/calls/{id}`, `/api/v1/messages`: the call history as JSON.

Filters are the console's (`from`, `to`, `caller`, `q`); lists take `limit` and `offset`.
Times are ISO 8601 in UTC.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from aiohttp import web

from brain.store import CallRecord, MessageRecord, TurnRecord
from web.query import CallFilter, parse_id, parse_int
from web.state import STORE

MAX_LIMIT = 200
MAX_OFFSET = 10_000_000


def to_json(record: CallRecord | TurnRecord | MessageRecord) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in dataclasses.asdict(record).items()}


def _window(request: web.Request) -> tuple[int, int]:
    return (parse_int(request.query, "limit", 50, 1, MAX_LIMIT),
            parse_int(request.query, "offset", 0, 0, MAX_OFFSET))


async def list_calls(request: web.Request) -> web.Response:
    store = request.app[STORE]
    found = CallFilter.from_query(request.query)
    limit, offset = _window(request)
    calls = await store.find_calls(**found.store_args(), limit=limit, offset=offset)
    return web.json_response({
        "calls": [to_json(call) for call in calls],
        "total": await store.count_calls(**found.store_args()),
        "limit": limit, "offset": offset})


async def get_call(request: web.Request) -> web.Response:
    store = request.app[STORE]
    call = await store.get_call(parse_id(request.match_info["call_id"]))
    if call is None:
        raise web.HTTPNotFound(text="no such call")
    return web.json_response({
        "call": to_json(call),
        "turns": [to_json(turn) for turn in await store.turns(call.id)],
        "messages": [to_json(m) for m in await store.messages_for_call(call.id)]})


async def list_messages(request: web.Request) -> web.Response:
    store = request.app[STORE]
    limit, offset = _window(request)
    messages = await store.messages(limit=limit, offset=offset)
    return web.json_response({
        "messages": [to_json(m) for m in messages],
        "total": await store.count_messages(), "limit": limit, "offset": offset})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/calls", list_calls, name="api.calls")
    router.add_get("/api/v1/calls/{call_id}", get_call, name="api.call")
    router.add_get("/api/v1/messages", list_messages, name="api.messages")
