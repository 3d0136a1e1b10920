"""The Stasis application: routes ARI events to call sessions and keeps them honest.

One `SecretaryApp` per process. It starts a `CallSession` for every caller
channel entering Stasis, resolves the waits for externalMedia channels' own
StasisStart, hands each channel's events to its session, and after a websocket
reconnect (Asterisk restart, network blip) ends sessions whose channels are gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ari_app.call_session import CallSession
from ari_app.client import CONNECTED, AriClient, AriError

log = logging.getLogger(__name__)

SessionFactory = Callable[["SecretaryApp", dict[str, Any]], CallSession]

CHANNEL_END_EVENTS = frozenset({"StasisEnd", "ChannelDestroyed", "ChannelHangupRequest"})


class SecretaryApp:
    """Dispatches ARI events of one Stasis application to per-call sessions."""

    def __init__(self, client: AriClient, session_factory: SessionFactory) -> None:
        self.client = client
        self._session_factory = session_factory
        self._sessions: dict[str, CallSession] = {}  # by every channel id the call owns
        self._tasks: set[asyncio.Task[None]] = set()
        self._stasis_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.ready = asyncio.Event()

    @property
    def active_calls(self) -> int:
        return len({id(s) for s in self._sessions.values()})

    def expect_stasis_start(self, channel_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future resolved when `channel_id` enters Stasis (externalMedia readiness)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._stasis_waiters[channel_id] = future
        return future

    def forget_stasis_wait(self, channel_id: str) -> None:
        self._stasis_waiters.pop(channel_id, None)

    def claim_channel(self, channel_id: str, session: CallSession) -> None:
        """Route this channel's events to `session` (caller and its externalMedia leg)."""
        self._sessions[channel_id] = session

    async def run(self) -> None:
        """Consume events until cancelled; on cancel, end every call cleanly."""
        try:
            async for event in self.client.events():
                await self.handle(event)
        finally:
            await self.shutdown()

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == CONNECTED:
            self.ready.set()
            if event.get("reconnect"):
                await self._reconcile()
            return
        channel = event.get("channel") or {}
        channel_id = channel.get("id")
        if kind == "StasisStart" and channel_id:
            waiter = self._stasis_waiters.pop(channel_id, None)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(channel)
                return
            self._start_session(channel, event.get("args") or [])
            return
        session = self._sessions.get(channel_id) if channel_id else None
        if session is not None:
            session.on_event(event)
            if kind in CHANNEL_END_EVENTS:
                self._sessions.pop(channel_id, None)

    def _start_session(self, channel: dict[str, Any], args: list[str]) -> None:
        if channel.get("name", "").startswith("UnicastRTP/"):
            # An externalMedia channel nobody waits for (its call already ended): drop it.
            log.info("stray externalMedia channel %s entered Stasis; hanging it up", channel["id"])
            self._spawn(self._hangup_quietly(channel["id"]))
            return
        session = self._session_factory(self, channel)
        self.claim_channel(channel["id"], session)
        log.info(
            "call %s from %r (%s) args=%s",
            channel["id"],
            channel.get("caller", {}).get("number", ""),
            channel.get("name"),
            args,
        )
        self._spawn(self._run_session(session))

    async def _run_session(self, session: CallSession) -> None:
        try:
            await session.run()
        finally:
            for channel_id in [c for c, s in self._sessions.items() if s is session]:
                del self._sessions[channel_id]

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hangup_quietly(self, channel_id: str) -> None:
        try:
            await self.client.hangup(channel_id)
        except AriError as exc:
            if exc.status != 404:
                log.warning("could not hang up %s: %s", channel_id, exc)

    async def _reconcile(self) -> None:
        """After a reconnect, end sessions whose caller channel no longer exists."""
        sessions = {id(s): s for s in self._sessions.values()}.values()
        for session in list(sessions):
            try:
                await self.client.get_channel(session.caller_id)
            except AriError as exc:
                if exc.status == 404:
                    log.warning("call %s vanished while ARI was away; ending it", session.caller_id)
                    session.end("channel gone after ARI reconnect")

    async def shutdown(self) -> None:
        for session in {id(s): s for s in self._sessions.values()}.values():
            session.end("application shutting down")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
