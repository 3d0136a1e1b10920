"""Logging in (with throttling of failures) and out."""

from __future__ import annotations

from aiohttp import web

from web.auth.sessions import end_login, start_login
from web.query import form_text, read_form
from web.state import ACCOUNTS, LOGIN_LIMITER
from web.templating import render

MAX_FIELD = 1024


def safe_next(target: object) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    if not isinstance(target, str) or not target.startswith("/") \
            or target.startswith(("//", "/\\")) \
            or any(ord(ch) < 0x20 or ch == "\\" for ch in target):
        return "/"
    return target


async def login_page(request: web.Request) -> web.StreamResponse:
    return await render(
        "login.html", request,
        {"next": safe_next(request.query.get("next")), "error": None, "username": ""})


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    username, password = form_text(form, "username"), form_text(form, "password")
    if username is None or password is None \
            or len(username) > MAX_FIELD or len(password) > MAX_FIELD:
        raise web.HTTPBadRequest(text="Give a user name and a password.")
    next_url = safe_next(form.get("next"))
    limiter = request.app[LOGIN_LIMITER]
    keys = [f"address:{request.remote}", f"user:{username.strip().lower()}"]
    wait = limiter.retry_after(keys)
    if wait is not None:
        raise web.HTTPTooManyRequests(
            headers={"Retry-After": str(wait)},
            text=f"Too many failed logins. Try again in {wait} seconds.")
    user = await request.app[ACCOUNTS].authenticate(username, password)
    if user is None:
        limiter.record(keys)
        return await render(
            "login.html", request,
            {"next": next_url, "error": "Wrong user name or password.",
             "username": username})
    limiter.forget(keys[1:])  # the address keeps its record: it may be guessing others
    await start_login(request, user.id)
    raise web.HTTPSeeOther(next_url)


async def logout(request: web.Request) -> web.StreamResponse:
    await end_login(request)
    raise web.HTTPSeeOther(str(request.app.router["login"].url_for()))


def add_routes(router: web.UrlDispatcher) -> None:
    login = router.add_resource("/login", name="login")
    login.add_route("GET", login_page)
    login.add_route("POST", login_submit)
    router.add_post("/logout", logout, name="logout")
