"""The calls list (filters, search over what was said, pages) and one call in detail:
its recordings, its turns with their stage timings, the messages taken on it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from web.query import CallFilter, Page, parse_id, parse_page_number
from web.recordings import call_files
from web.state import CONFIG, STORE
from web.stats import waterfall, waterfall_scale
from web.templating import render

PAGE_SIZE = 25


def page_url(request: web.Request, name: str, params: dict[str, str], page: int) -> str:
    query = {**params, "page": str(page)} if page > 1 else params
    return str(request.app.router[name].url_for().with_query(query))


async def calls_list(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    found = CallFilter.from_query(request.query)
    number = parse_page_number(request.query)
    page = Page(number=number, size=PAGE_SIZE, total=await store.count_calls(
        **found.store_args()))
    calls = await store.find_calls(**found.store_args(), limit=page.size, offset=page.offset)
    params = found.params()
    return await render("calls.html", request, {
        "calls": calls, "filter": found, "page": page,
        "previous_url": page_url(request, "calls", params, number - 1),
        "next_url": page_url(request, "calls", params, number + 1),
    })


async def call_detail(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    call = await store.get_call(parse_id(request.match_info["call_id"]))
    if call is None:
        raise web.HTTPNotFound(text="There is no such call.")
    turns = await store.turns(call.id)
    scale = waterfall_scale(t.timings for t in turns)
    files = await asyncio.to_thread(call_files, request.app[CONFIG].calls_log_dir,
                                    call.recording_prefix)
    return await render("call.html", request, {
        "call": call,
        "turns": [(turn, waterfall(turn.timings, scale)) for turn in turns],
        "scale_ms": scale,
        "messages": await store.messages_for_call(call.id),
        "files": files,
    })


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/calls", calls_list, name="calls")
    router.add_get("/calls/{call_id}", call_detail, name="call")
