"""Console sessions: encrypted, signed cookies (aiohttp-session + Fernet) that carry the
user's id, when they logged in and their CSRF token; nothing else about them.

A session is good for `max_age` seconds after login, however busy (Fernet's timestamp
and our own `login_at` both say so); the user row is read again on every request, so a
deleted user or a changed role takes effect at once.
"""

from __future__ import annotations

import secrets
import time

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet

COOKIE_NAME = "secretary_session"
USER_ID = "uid"
LOGIN_AT = "login_at"
CSRF = "csrf"


def cookie_storage(key: Fernet, *, max_age_s: int, secure: bool) -> EncryptedCookieStorage:
    return EncryptedCookieStorage(key, cookie_name=COOKIE_NAME, max_age=max_age_s,
                                  httponly=True, secure=secure, samesite="Lax")


def csrf_token(session: Session) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get(CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF] = token
    return token


async def start_login(request: web.Request, user_id: int) -> None:
    """A fresh session (a new CSRF token too) for the user who just logged in, so nothing
    planted in the session before login carries over."""
    session = await new_session(request)
    session[USER_ID] = user_id
    session[LOGIN_AT] = int(time.time())
    csrf_token(session)


async def end_login(request: web.Request) -> None:
    (await get_session(request)).invalidate()


async def logged_in_user_id(request: web.Request, max_age_s: int) -> int | None:
    """The user id of a live login in this request's session, else None."""
    session = await get_session(request)
    user_id, login_at = session.get(USER_ID), session.get(LOGIN_AT)
    if not isinstance(user_id, int) or not isinstance(login_at, int):
        return None
    if not 0 <= time.time() - login_at <= max_age_s:
        session.invalidate()
        return None
    return user_id
