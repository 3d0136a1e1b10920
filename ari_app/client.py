"""A thin async client for Asterisk's REST Interface (ARI) on aiohttp.

The official `ari` package (ari-py) does not import on Python 3
(`ModuleNotFoundError: client`), so this module speaks ARI directly: REST
calls with basic auth, and the events websocket with reconnect and
exponential backoff. It knows nothing about calls; `ari_app.app` does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from base64 import b64encode
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

CONNECTED = "SecretaryWebsocketConnected"
"""Synthetic event yielded after every (re)connection, so the app can reconcile state."""


class AriError(RuntimeError):
    """ARI answered a request with an error status."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"ARI {method} {path} -> {status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AriConfig:
    base_url: str  # e.g. http://127.0.0.1:8088/ari
    username: str
    password: str
    app: str
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 10.0
    request_timeout_s: float = 10.0


class AriClient:
    """REST calls and the events websocket of one ARI application."""

    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AriClient:
        credentials = f"{self.config.username}:{self.config.password}".encode()
        self._session = aiohttp.ClientSession(
            headers={"Authorization": "Basic " + b64encode(credentials).decode()},
            timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_s),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("AriClient used outside `async with`")
        return self._session

    # ---- REST --------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Any:
        """One REST call; returns decoded JSON (or None for 204), raises AriError."""
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        url = self.config.base_url + path
        async with self.session.request(method, url, params=clean, json=body) as response:
            text = await response.text()
            if response.status >= 400:
                try:
                    message = json.loads(text).get("message", text)
                except (ValueError, AttributeError):
                    message = text
                raise AriError(method, path, response.status, message)
            if not text:
                return None
            return json.loads(text)

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason})

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/channels/{channel_id}")

    async def channels(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/channels")

    async def bridges(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/bridges")

    async def create_bridge(self, bridge_id: str, kind: str = "mixing") -> dict[str, Any]:
        return await self.request("POST", f"/bridges/{bridge_id}", {"type": kind})

    async def add_to_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/addChannel", {"channel": channel_id})

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/removeChannel",
                           {"channel": channel_id})

    async def originate(self, channel_id: str, endpoint: str, *, app_args: str,
                        caller_id: str = "", timeout_s: int = 30) -> dict[str, Any]:
        """Dial `endpoint` (e.g. PJSIP/operator); the channel enters our Stasis app when
        answered, and its events come to us from the start (ringing, hangup)."""
        params = {"endpoint": endpoint, "app": self.config.app, "appArgs": app_args,
                  "channelId": channel_id, "timeout": timeout_s}
        if caller_id:
            params["callerId"] = caller_id
        return await self.request("POST", "/channels", params)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def external_media(
        self, channel_id: str, external_host: str, audio_format: str
    ) -> dict[str, Any]:
        """Create an externalMedia (RTP) channel whose audio goes to/from external_host."""
        return await self.request(
            "POST",
            "/channels/externalMedia",
            {
                "app": self.config.app,
                "channelId": channel_id,
                "external_host": external_host,
                "format": audio_format,
                "encapsulation": "rtp",
                "transport": "udp",
                "direction": "both",
            },
        )

    async def application(self) -> dict[str, Any]:
        return await self.request("GET", f"/applications/{self.config.app}")

    # ---- events ------------------------------------------------------------

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Yield ARI events forever, reconnecting with backoff when the websocket drops.

        After each successful connection a ``{"type": CONNECTED, "reconnect": bool}``
        event is yielded first. Failures are logged once per outage, not per attempt.
        """
        url = self.config.base_url.replace("http", "ws", 1) + "/events"
        params = {"app": self.config.app, "subscribeAll": "false"}
        delay = self.config.reconnect_initial_s
        connected_before = False
        outage_logged = False
        while True:
            try:
                async with self.session.ws_connect(
                    url, params=params, heartbeat=20, timeout=aiohttp.ClientWSTimeout(ws_close=5)
                ) as ws:
                    log.info("ARI events websocket connected (app %s)", self.config.app)
                    delay = self.config.reconnect_initial_s
                    outage_logged = False
                    yield {"type": CONNECTED, "reconnect": connected_before}
                    connected_before = True
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            try:
                                yield json.loads(message.data)
                            except ValueError:
                                log.warning("ARI sent a non-JSON event: %.200s", message.data)
                        elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                            break
                if not outage_logged:
                    log.warning("ARI events websocket closed; reconnecting")
                    outage_logged = True
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                if not outage_logged:
                    log.warning("ARI events websocket unavailable (%s); retrying with backoff", exc)
                    outage_logged = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.config.reconnect_max_s)


async def tolerate_gone(request: Awaitable[Any], context: str = "") -> None:
    """Await a clean-up request; what is already gone (404, 422) is fine, the rest is logged.

    Clean-up must never raise: the caller may have hung up, or Asterisk may be
    restarting, and either way the remaining steps still have to run.
    """
    try:
        await request
    except AriError as exc:
        if exc.status not in (404, 422):
            log.warning("%sclean-up request failed: %s", context, exc)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        log.warning("%sclean-up request failed, ARI unreachable: %s", context, exc)


def _param(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
