"""A local stand-in for Twilio's REST API: the one endpoint the secretary uses, the Calls
update (`POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`), served on
127.0.0.1 and recording every request as the real `twilio` client sent it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass(frozen=True)
class CallUpdate:
    account_sid: str
    call_sid: str
    form: dict[str, str]
    user: str  # from HTTP basic auth


class TwilioRestStub:
    def __init__(self) -> None:
        self.updates: list[CallUpdate] = []
        self.fail_with: int | None = None  # answer every update with this status
        self._changed = asyncio.Event()
        self.server: TestServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def _update(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        user = base64.b64decode(encoded).decode().split(":")[0] if scheme == "Basic" else ""
        account, call = request.match_info["account"], request.match_info["call"]
        self.updates.append(CallUpdate(account, call, form, user))
        self._changed.set()
        if self.fail_with is not None:
            return web.json_response({"code": 20404, "message": "stub refuses",
                                      "status": self.fail_with}, status=self.fail_with)
        return web.json_response({"sid": call, "account_sid": account,
                                  "status": form.get("Status", "in-progress")})

    async def wait_update(self, call_sid: str, within_s: float = 30.0) -> CallUpdate:
        """The first update of `call_sid` (bounded wait)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while True:
            for update in self.updates:
                if update.call_sid == call_sid:
                    return update
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no Calls update for {call_sid} within {within_s} s; "
                                     f"got {self.updates}")
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


@asynccontextmanager
async def running_rest_stub() -> AsyncIterator[TwilioRestStub]:
    stub = TwilioRestStub()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", stub._update)
    stub.server = TestServer(app, host="127.0.0.1")
    await stub.server.start_server()
    try:
        yield stub
    finally:
        await stub.server.close()
