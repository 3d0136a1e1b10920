"""The messages taken for the boss, newest first, in pages."""

from __future__ import annotations

from aiohttp import web

from web.pages.calls import page_url
from web.query import Page, parse_page_number
from web.state import STORE
from web.templating import render

PAGE_SIZE = 50


async def messages_list(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    number = parse_page_number(request.query)
    page = Page(number=number, size=PAGE_SIZE, total=await store.count_messages())
    return await render("messages.html", request, {
        "messages": await store.messages(limit=page.size, offset=page.offset),
        "page": page,
        "previous_url": page_url(request, "messages", {}, number - 1),
        "next_url": page_url(request, "messages", {}, number + 1),
    })


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/messages", messages_list, name="messages")
