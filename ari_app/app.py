"""The Stasis application: routes ARI events to call sessions and keeps them honest.

One `SecretaryApp` per process. It starts a `CallSession` for every caller
channel entering Stasis, resolves the waits for externalMedia channels' own
StasisStart, and hands each channel's events to its session.

Every time the events websocket (re)connects it reconciles with Asterisk:
sessions whose caller is gone are ended (Asterisk restarted); bridges and
externalMedia channels that no session owns are removed (our process was
killed mid-call); callers still waiting in our Stasis application with no
session are picked up again, so a restarted secretary keeps talking to them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ari_app.call_session import (
    BRIDGE_PREFIX,
    CHANNEL_END_EVENTS,
    MEDIA_CHANNEL_PREFIX,
    TRANSFER_CHANNEL_PREFIX,
    CallSession,
)
from ari_app.client import CONNECTED, AriClient, AriError, tolerate_gone

log = logging.getLogger(__name__)

SessionFactory = Callable[["SecretaryApp", dict[str, Any]], CallSession]



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
            try:
                await self._reconcile()
            except (AriError, OSError) as exc:
                log.warning("could not reconcile with Asterisk after connecting: %s", exc)
            self.ready.set()
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
            self._spawn(tolerate_gone(self.client.hangup(channel["id"])))
            return
        session = self._session_factory(self, channel)
        if args and args != ["resumed"]:  # a resumed call keeps what its snapshot said
            session.args = list(args)
        self.claim_channel(channel["id"], session)
        log.info(
            "call %s from %r (%s) args=%s line=%s dialled=%r",
            channel["id"],
            channel.get("caller", {}).get("number", ""),
            channel.get("name"),
            args,
            session.line,
            session.dialled_number,
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


    async def _reconcile(self) -> None:
        """Make our view and Asterisk's agree after a (re)connection."""
        channels = {c["id"]: c for c in await self.client.channels()}
        for session in {id(s): s for s in self._sessions.values()}.values():
            if session.caller_id not in channels:
                log.warning("call %s vanished while ARI was away; ending it", session.caller_id)
                session.end("channel gone after ARI reconnect")
        # A caller already put through to a human talks on in its bridge whatever happened
        # to us: neither the bridge nor the caller is ours to clean up or pick up again.
        talking_to_staff: set[str] = set()
        for bridge in await self.client.bridges():
            members = bridge.get("channels") or []
            if not bridge["id"].startswith(BRIDGE_PREFIX) or self._owns_bridge(bridge["id"]):
                continue
            if any(c.startswith(TRANSFER_CHANNEL_PREFIX) for c in members):
                talking_to_staff.update(members)
                continue
            log.warning("removing orphaned bridge %s", bridge["id"])
            await tolerate_gone(self.client.destroy_bridge(bridge["id"]))
        for channel_id, channel in channels.items():
            if channel_id in self._sessions or channel_id in talking_to_staff:
                continue
            if channel_id.startswith(MEDIA_CHANNEL_PREFIX):
                log.warning("hanging up orphaned media channel %s", channel_id)
                await tolerate_gone(self.client.hangup(channel_id))
            elif self._waits_in_our_app(channel):
                log.warning("picking up caller %s left without a session", channel_id)
                self._start_session(channel, ["resumed"])

    def _owns_bridge(self, bridge_id: str) -> bool:
        return any(s.bridge_id == bridge_id for s in self._sessions.values())

    def _waits_in_our_app(self, channel: dict[str, Any]) -> bool:
        dialplan = channel.get("dialplan") or {}
        app_data = str(dialplan.get("app_data", ""))
        return (
            channel.get("state") in ("Up", "Ring", "Ringing")
            and dialplan.get("app_name") == "Stasis"
            and app_data.split(",")[0] == self.client.config.app
            and not channel.get("name", "").startswith("UnicastRTP/")
        )

    async def shutdown(self) -> None:
        for session in {id(s): s for s in self._sessions.values()}.values():
            session.end("application shutting down")
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
