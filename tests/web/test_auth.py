"""Logging in and out, throttling, sessions, CSRF, roles, and the proof that every route
outside the public list is closed."""

from __future__ import annotations

import json
import re
import time

from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet
from yarl import URL

from tests.web.conftest import ADMIN, VIEWER, Console, csrf_token, login
from web.auth.middleware import PUBLIC_ROUTES
from web.auth.sessions import COOKIE_NAME
from web.state import LOGIN_LIMITER


async def test_login_lands_on_the_page_asked_for_and_shows_the_user(console: Console) -> None:
    client = console.client
    first = await client.get("/calls?q=x", allow_redirects=False)
    assert first.status == 303
    location = URL(first.headers["Location"])
    assert (location.path, location.query["next"]) == ("/login", "/calls?q=x")

    response = await login(client, *ADMIN, next_url="/calls?q=x")
    assert response.status == 303
    assert response.headers["Location"] == "/calls?q=x"
    page = await client.get("/calls?q=x")
    assert page.status == 200
    assert "admin · admin" in await page.text()


async def test_login_never_redirects_to_another_site(console: Console) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        client = console.new_client()
        async with client:
            response = await login(client, *ADMIN, next_url=target)
            assert response.status == 303
            assert response.headers["Location"] == "/", target


async def test_wrong_password_and_unknown_user_are_refused_alike(console: Console) -> None:
    client = console.client
    for username, password in ((ADMIN[0], "wrong-password"), ("nobody", ADMIN[1])):
        response = await login(client, username, password)
        assert response.status == 200
        assert "Wrong user name or password." in await response.text()
        assert (await client.get("/", allow_redirects=False)).status == 303


async def test_login_form_without_fields_is_a_bad_request(console: Console) -> None:
    token = await csrf_token(console.client)
    response = await console.client.post("/login", data={"csrf_token": token})
    assert response.status == 400


async def test_five_failures_lock_the_address_and_the_user_out(console: Console) -> None:
    client = console.client
    for _ in range(5):
        assert (await login(client, ADMIN[0], "wrong-password")).status == 200
    locked = await login(client, *ADMIN)  # even the right password now
    assert locked.status == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many failed logins" in await locked.text()
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_failures_for_one_user_name_lock_that_name_from_any_address(
        console: Console) -> None:
    statuses = []
    for attempt in range(5):
        client = console.new_client()
        async with client:
            response = await login(client, VIEWER[0], f"wrong-{attempt}")
            statuses.append(response.status)
    assert statuses == [200] * 5
    # Loopback is one address, so ask the limiter about the user name from another one.
    limiter = console.client.app[LOGIN_LIMITER]
    assert limiter.retry_after([f"user:{VIEWER[0]}"]) is not None
    assert limiter.retry_after(["address:192.0.2.1"]) is None  # another address is fine...
    assert limiter.retry_after(["address:192.0.2.1", f"user:{VIEWER[0]}"]) is not None


async def test_logout_ends_the_session(admin: TestClient) -> None:
    token = await csrf_token(admin, "/")
    response = await admin.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login"
    assert (await admin.get("/", allow_redirects=False)).status == 303


def concrete_path(resource: web.AbstractResource) -> str:
    return re.sub(r"\{[^}]+\}", "1", resource.canonical)


async def test_every_route_but_the_public_ones_needs_a_login(console: Console) -> None:
    # The website widget's public endpoints, each named (CORS-guarded instead: web.widget).
    widget = frozenset({"widget.script", "widget.script_query", "widget.config",
                        "widget.session_new", "widget.session", "widget.message",
                        "widget.handoff"})
    # Machines posting with a shared secret: Telegram, YooMoney, GitHub (web.telegram_hooks).
    hooks = frozenset({"telegram.webhook", "payments.yoomoney", "webhooks.github"})
    # Twilio: webhooks signed with X-Twilio-Signature, the stream by its token (web.twilio).
    twilio = frozenset({"twilio.voice", "twilio.status", "twilio.media"})
    assert frozenset({"login", "health", "metrics", "static"}) | widget | hooks | twilio \
        == PUBLIC_ROUTES
    checked = 0
    for resource in console.client.app.router.resources():
        assert resource.name, f"unnamed route {resource.canonical} (names decide access)"
        if resource.name in PUBLIC_ROUTES:
            continue
        path = concrete_path(resource)
        for route in resource:
            client = console.new_client()  # no cookies at all
            async with client:
                response = await client.request(route.method, path, allow_redirects=False)
                body = await response.text()
            if resource.name.startswith("api."):
                assert response.status == 401, (route.method, path)
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
                if route.method != "HEAD":
                    assert "error" in json.loads(body)
            else:
                assert response.status == 303, (route.method, path, response.status)
                assert response.headers["Location"].startswith("/login?next="), path
            checked += 1
    assert checked >= 12  # pages, actions and the API (GET and HEAD each)


async def test_public_routes_answer_without_a_login(console: Console) -> None:
    client = console.client
    assert (await client.get("/login")).status == 200
    assert (await client.get("/health")).status == 200
    assert (await client.get("/metrics")).status == 200
    css = await client.get("/static/console.css")
    assert css.status == 200
    assert ".waterfall" in await css.text()


async def test_unknown_paths_are_404_not_500(admin: TestClient) -> None:
    for path in ("/nope", "/static/../web/app.py", "/static/missing.css", "/calls/1/x"):
        response = await admin.get(path)
        assert response.status == 404, path
    assert "<h1>404 Not Found</h1>" in await (await admin.get("/nope")).text()
    assert (await admin.post("/calls")).status == 405


async def test_unreadable_forms_are_400(admin: TestClient) -> None:
    token = await csrf_token(admin, "/users")
    broken = b"--zz\r\nbroken"
    for headers in ({}, {"X-CSRF-Token": token}):
        response = await admin.post("/users", data=broken, headers={
            "Content-Type": "multipart/form-data; boundary=zz", **headers})
        assert response.status == 400, headers
    huge = await admin.post("/users", data="x" * 100_000, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token})
    assert huge.status == 413


async def test_csrf_token_is_required_on_every_form(admin: TestClient, console: Console
                                                     ) -> None:
    form = {"username": "mallory", "password": "mallory-password", "role": "admin"}
    missing = await admin.post("/users", data=form)
    wrong = await admin.post("/users", data={**form, "csrf_token": "not-the-token"})
    wrong_header = await admin.post("/users", data=form, headers={"X-CSRF-Token": "x" * 43})
    assert (missing.status, wrong.status, wrong_header.status) == (403, 403, 403)
    page = await missing.text()
    assert "<h1>403 Forbidden</h1>" in page and "reload the page" in page
    assert "mallory" not in [u.username for u in await console.accounts.users()]

    token = await csrf_token(admin, "/users")
    ok = await admin.post("/users", data={**form, "csrf_token": token}, allow_redirects=False)
    assert ok.status == 303
    assert "mallory" in [u.username for u in await console.accounts.users()]


async def test_login_itself_needs_the_csrf_token(console: Console) -> None:
    await csrf_token(console.client)  # a session exists, but the form does not carry it
    response = await console.client.post(
        "/login", data={"username": ADMIN[0], "password": ADMIN[1]}, allow_redirects=False)
    assert response.status == 403


async def test_logout_needs_the_csrf_token(admin: TestClient) -> None:
    assert (await admin.post("/logout", allow_redirects=False)).status == 403
    assert (await admin.get("/", allow_redirects=False)).status == 200


async def test_viewer_reads_but_cannot_change(viewer: TestClient, console: Console) -> None:
    page = await viewer.get("/users")
    assert page.status == 200
    text = await page.text()
    assert "admin" in text and "Add a user" not in text
    token = await csrf_token(viewer, "/users")
    admin_id = next(u.id for u in await console.accounts.users() if u.username == "admin")
    for path, data in (("/users", {"username": "eve", "password": "eve-password-1",
                                   "role": "admin"}),
                       (f"/users/{admin_id}/delete", {})):
        response = await viewer.post(path, data={**data, "csrf_token": token},
                                     allow_redirects=False)
        assert response.status == 403, path
    assert sorted(u.username for u in await console.accounts.users()) == ["admin", "viewer"]
    out = await viewer.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303


async def test_admin_cannot_remove_the_last_admin_or_themselves(admin: TestClient,
                                                                console: Console) -> None:
    token = await csrf_token(admin, "/users")
    me = next(u for u in await console.accounts.users() if u.username == "admin")
    response = await admin.post(f"/users/{me.id}/delete", data={"csrf_token": token})
    assert response.status == 400
    assert "cannot remove yourself" in await response.text()
    bad = await admin.post("/users", data={"username": "x y", "password": "short",
                                           "role": "admin", "csrf_token": token})
    assert bad.status == 400
    assert (await admin.post("/users/999999/delete", data={"csrf_token": token})).status == 404


async def test_a_deleted_user_is_logged_out_at_once(console: Console) -> None:
    viewer = console.new_client()
    async with viewer:
        assert (await login(viewer, *VIEWER)).status == 303
        assert (await viewer.get("/", allow_redirects=False)).status == 200
        target = next(u for u in await console.accounts.users() if u.username == "viewer")
        assert await console.accounts.delete_user(target.id)
        assert (await viewer.get("/", allow_redirects=False)).status == 303


def session_cookie(console: Console, data: dict[str, object], *, at: float | None = None
                   ) -> str:
    payload = json.dumps({"created": int(time.time()), "session": data}).encode()
    key = console.config.session_key
    token = key.encrypt(payload) if at is None else key.encrypt_at_time(payload, int(at))
    return token.decode()


async def test_forged_and_expired_sessions_go_back_to_login(console: Console) -> None:
    admin_id = next(u.id for u in await console.accounts.users() if u.username == "admin")
    now = time.time()
    good = session_cookie(console, {"uid": admin_id, "login_at": int(now)})
    cookies = {
        "forged": "gAAAAABnot-a-real-token",
        "other key": Fernet(Fernet.generate_key()).encrypt(json.dumps(
            {"session": {"uid": admin_id, "login_at": int(now)}}).encode()).decode(),
        "login too old": session_cookie(console, {"uid": admin_id,
                                                  "login_at": int(now) - 7200}),
        "cookie too old": session_cookie(console, {"uid": admin_id, "login_at": int(now)},
                                         at=now - 7200),
        "from the future": session_cookie(console, {"uid": admin_id,
                                                    "login_at": int(now) + 7200}),
        "no such user": session_cookie(console, {"uid": 999, "login_at": int(now)}),
        "wrong types": session_cookie(console, {"uid": "1", "login_at": "now"}),
    }
    for why, value in cookies.items():
        client = console.new_client()
        async with client:
            client.session.cookie_jar.update_cookies({COOKIE_NAME: value})
            response = await client.get("/calls", allow_redirects=False)
            assert response.status == 303, why
            assert response.headers["Location"].startswith("/login"), why
    client = console.new_client()
    async with client:  # the same recipe with a live login does get in
        client.session.cookie_jar.update_cookies({COOKIE_NAME: good})
        assert (await client.get("/calls", allow_redirects=False)).status == 200


async def test_session_cookie_is_http_only_and_same_site(console: Console) -> None:
    response = await login(console.client, *ADMIN)
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == "3600"


async def test_pages_carry_security_headers(admin: TestClient) -> None:
    response = await admin.get("/")
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
