"""A local server on 127.0.0.1 that speaks enough of the Telegram Bot API for aiogram's
real HTTP stack: `/bot{token}/{method}` and `/file/bot{token}/{path}`.

Tests register bots (tokens), queue updates that `getUpdates` serves (long poll with a
short wait), and read back every request as it was sent (form fields, uploaded files).
A token can be revoked (every call answers 401) and a method can be made to answer 429
with `parameters.retry_after` once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

MAX_POLL_WAIT_S = 0.5  # whatever timeout the client asks for: tests stay quick


@dataclass
class ApiCall:
    token: str
    method: str  # lower case
    fields: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = 0.0

    def json(self, name: str) -> Any:
        return json.loads(self.fields[name])


@dataclass
class _Bot:
    id: int
    username: str
    updates: list[dict[str, Any]] = field(default_factory=list)


class BotApiStub:
    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.files: dict[str, bytes] = {}
        self.revoked: set[str] = set()
        self._bots: dict[str, _Bot] = {}
        self._rate_limits: dict[str, int] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what tests do ---------------------------------------------------------------

    def add_bot(self, token: str, username: str) -> None:
        self._bots[token] = _Bot(id=int(token.split(":")[0]), username=username)

    def rate_limit(self, method: str, retry_after: int) -> None:
        """The next call of `method` answers 429 asking to wait `retry_after` seconds."""
        self._rate_limits[method.lower()] = retry_after

    def push(self, token: str, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._bots[token].updates.append({"update_id": update_id, **update})
        self._changed.set()
        return update_id

    def sent(self, token: str | None = None, method: str | None = None) -> list[ApiCall]:
        return [c for c in self.calls if (token is None or c.token == token)
                and (method is None or c.method == method.lower())]

    async def wait_for(self, predicate: Callable[[], Any], within_s: float = 20.0) -> Any:
        """Wait until `predicate()` is truthy; returns its value."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out after {within_s} s waiting for {predicate}")

    async def wait_sent(self, token: str, method: str, count: int = 1,
                        within_s: float = 20.0) -> list[ApiCall]:
        return await self.wait_for(
            lambda: (found if len(found := self.sent(token, method)) >= count else None),
            within_s)

    # ---- the Bot API ------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"].lower()
        fields: dict[str, str] = {}
        files: dict[str, bytes] = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[name] = value.file.read()
            else:
                fields[name] = str(value)
        for name, value in list(fields.items()):  # aiogram uploads as "attach://<part>"
            if value.startswith("attach://") and value[9:] in files:
                files[name] = files.pop(value[9:])
        self.calls.append(ApiCall(token, method, fields, files, time.monotonic()))
        bot = self._bots.get(token)
        if bot is None or token in self.revoked:
            return _error(401, "Unauthorized")
        retry_after = self._rate_limits.pop(method, None)
        if retry_after is not None:
            return _error(429, f"Too Many Requests: retry after {retry_after}",
                          parameters={"retry_after": retry_after})
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _error(404, f"Not Found: method {method}")
        return _ok(await handler(bot, fields, files))

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["path"])
        if data is None or request.match_info["token"] not in self._bots:
            raise web.HTTPNotFound()
        return web.Response(body=data)

    async def _m_getme(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        return {"id": bot.id, "is_bot": True, "first_name": bot.username,
                "username": bot.username}

    async def _m_getupdates(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        offset = int(fields.get("offset", 0) or 0)
        bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        if not bot.updates:
            self._changed.clear()
            wait = min(float(fields.get("timeout", 0) or 0), MAX_POLL_WAIT_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)
        return list(bot.updates)

    async def _m_setwebhook(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        return True

    async def _m_deletewebhook(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        return True

    async def _m_answercallbackquery(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        return True

    async def _m_answerprecheckoutquery(self, bot: _Bot, fields: dict[str, str],
                                        _: Any) -> Any:
        return True

    async def _m_sendmessage(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        return self._message(fields, text=fields.get("text", ""))

    async def _m_editmessagetext(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        return self._message(fields, text=fields.get("text", ""),
                             message_id=int(fields.get("message_id", 1)))

    async def _m_sendvoice(self, bot: _Bot, fields: dict[str, str],
                           files: dict[str, bytes]) -> Any:
        return self._message(fields, voice={"file_id": "sent-voice", "duration": 1,
                                            "file_unique_id": "sent-voice"})

    async def _m_senddocument(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        return self._message(fields, document={"file_id": "sent-doc",
                                               "file_unique_id": "sent-doc"})

    async def _m_sendinvoice(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        prices = json.loads(fields["prices"])
        return self._message(fields, invoice={
            "title": fields["title"], "description": fields["description"],
            "start_parameter": "", "currency": fields["currency"],
            "total_amount": sum(p["amount"] for p in prices)})

    async def _m_getfile(self, bot: _Bot, fields: dict[str, str], _: Any) -> Any:
        file_id = fields["file_id"]
        data = self.files.get(file_id)
        if data is None:
            return None
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(data),
                "file_path": file_id}

    def _message(self, fields: dict[str, str], message_id: int | None = None,
                 **content: Any) -> dict[str, Any]:
        return {"message_id": message_id or next(self._message_ids), "date": int(time.time()),
                "chat": {"id": int(fields.get("chat_id", 0)), "type": "private"}, **content}


def _ok(result: Any) -> web.Response:
    if result is None:
        return _error(400, "Bad Request: file not found")
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, **extra: Any) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description,
                              **extra}, status=status)


# ---- updates as Telegram sends them -----------------------------------------------------

def user(user_id: int, language: str = "en") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
            "language_code": language}


def chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private"}


_ids = itertools.count(1)


def message(user_id: int, text: str | None = None, *, language: str = "en",
            **content: Any) -> dict[str, Any]:
    """A message from `user_id`, whose Telegram app is set to `language`."""
    body: dict[str, Any] = {"message_id": next(_ids), "date": int(time.time()),
                            "chat": chat(user_id), "from": user(user_id, language),
                            **content}
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0,
                                 "length": len(text.split()[0])}]
    return {"message": body}


def callback(user_id: int, data: str, message_id: int = 1,
             language: str = "en") -> dict[str, Any]:
    return {"callback_query": {
        "id": f"cq{next(_ids)}", "from": user(user_id, language), "chat_instance": "ci",
        "data": data,
        "message": {"message_id": message_id, "date": int(time.time()),
                    "chat": chat(user_id), "text": "..."}}}
