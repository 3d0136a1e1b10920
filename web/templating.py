"""Jinja for the console: templates from the `web` package, autoescaped, a few filters
(local time, durations), and `render`, which gives every page the user and the CSRF
token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session

from web.auth.sessions import csrf_token
from web.state import USER


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return "" if value is None else value.astimezone().strftime(fmt)


def duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    seconds = max(0, round((end - start).total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def milliseconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


async def render(template: str, request: web.Request, context: Mapping[str, Any], *,
                 status: int = 200) -> web.Response:
    """A page, with what every page needs: who is logged in and the CSRF token."""
    session = await get_session(request)
    page = {"user": request.get(USER), "csrf_token": csrf_token(session),
            "path": request.path, **context}
    return aiohttp_jinja2.render_template(template, request, page, status=status)


def setup_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        default_helpers=True,
    )
    env.filters.update(local_time=local_time, duration=duration, ms=milliseconds)
