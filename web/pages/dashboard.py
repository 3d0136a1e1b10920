"""The dashboard: today's calls, calls in progress, messages, reply latency, and website
chats handed to a person that nobody has looked at yet."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from web.query import local_midnight
from web.state import STORE, WIDGET
from web.stats import reply_latency
from web.templating import render

LATEST_MESSAGES = 5


async def dashboard(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE]
    today = local_midnight(date.today())
    week = local_midnight(date.today() - timedelta(days=6))
    return await render("dashboard.html", request, {
        "calls_today": await store.count_calls(since=today),
        "active_calls": await store.open_calls(),
        "messages_today": await store.count_messages(since=today),
        "messages_total": await store.count_messages(),
        "latest_messages": await store.messages(limit=LATEST_MESSAGES),
        "latency_today": reply_latency(await store.turn_timings(since=today)),
        "latency_week": reply_latency(await store.turn_timings(since=week)),
        "widget_waiting": await request.app[WIDGET].store.notifications(),
    })


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", dashboard, name="dashboard")
