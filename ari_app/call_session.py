"""One phone call, from StasisStart to a clean teardown.

Answer, put the caller in a mixing bridge with an externalMedia (RTP) channel
that points at our own UDP socket, wait for that channel's own StasisStart
before bridging it (ARI answers 422 otherwise), then hand the call's media to a
behaviour (`ari_app.behaviours`). On hangup everything the call created in
Asterisk is removed, and the recordings are closed whatever happened.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ari_app.behaviours import CallBehaviour
from ari_app.client import AriClient, AriError, tolerate_gone
from ari_app.line_call import converse
from media.call_media import CallMedia
from media.clock import FrameClock
from media.codecs import codec_for_format
from media.recorder import CallRecorder

if TYPE_CHECKING:
    from ari_app.app import SecretaryApp
    from brain.persona import TransferTarget

log = logging.getLogger(__name__)

EXTERNAL_MEDIA_READY_TIMEOUT_S = 5.0
BRIDGE_PREFIX = "secretary-bridge-"
MEDIA_CHANNEL_PREFIX = "secretary-media-"
TRANSFER_CHANNEL_PREFIX = "secretary-transfer-"
CHANNEL_END_EVENTS = ("StasisEnd", "ChannelDestroyed", "ChannelHangupRequest")


def stasis_args(channel: dict[str, Any]) -> list[str]:
    """The Stasis() arguments in a channel snapshot's dialplan (app name dropped)."""
    dialplan = channel.get("dialplan") or {}
    if dialplan.get("app_name") != "Stasis":
        return []
    return str(dialplan.get("app_data", "")).split(",")[1:]


@dataclass(frozen=True)
class CallOptions:
    audio_format: str  # ulaw | alaw | slin
    media_host: str
    jitter_depth: int
    calls_log_dir: Path
    behaviour: Callable[[], CallBehaviour]  # a fresh behaviour per call
    max_call_seconds: float


class CallSession:
    """Owns one caller channel, its bridge, its externalMedia channel and its media."""

    def __init__(
        self,
        app: SecretaryApp,
        client: AriClient,
        channel: dict[str, Any],
        clock: FrameClock,
        options: CallOptions,
    ) -> None:
        self.app = app
        self.client = client
        self.clock = clock
        self.options = options
        self.caller_id: str = channel["id"]
        self.caller_number: str = channel.get("caller", {}).get("number", "")
        # Stasis() arguments after the app name, as the dialplan gave them: until the app
        # sets them from StasisStart, what the channel's snapshot says (a resumed call).
        self.args: list[str] = stasis_args(channel)
        tag = uuid.uuid4().hex[:12]
        self.bridge_id = BRIDGE_PREFIX + tag
        self.media_channel_id = MEDIA_CHANNEL_PREFIX + tag
        self.media: CallMedia | None = None
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.transfer_channel_id: str | None = None  # being dialled, or bridged with the caller
        self.transferred = False
        self._transfer_gone: asyncio.Future[str] | None = None
        self._ended = asyncio.Event()
        self.end_reason = ""

    # ---- events from the app --------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        channel_id = event["channel"]["id"]
        if kind == "ChannelDtmfReceived" and channel_id == self.caller_id:
            self.dtmf.put_nowait(str(event.get("digit", "")))
        elif kind in CHANNEL_END_EVENTS:
            if channel_id == self.transfer_channel_id:
                gone = self._transfer_gone
                if gone is not None and not gone.done():
                    gone.set_result(kind)
                if not self.transferred:
                    return  # nobody answered: the secretary takes the call back
                self.end(f"transfer target: {kind}")
            elif channel_id == self.media_channel_id and self.transferred:
                return  # we left the bridge on purpose
            else:
                who = "caller" if channel_id == self.caller_id else "media channel"
                self.end(f"{who}: {kind}")

    @property
    def line(self) -> str:
        """Where the call came in: a trunk's name (Twilio, ...) or "local" (our own SIP)."""
        if len(self.args) >= 2 and self.args[0] == "trunk":
            return self.args[1]
        return "local"

    @property
    def dialled_number(self) -> str:
        """The number the caller dialled: `trunk,<name>,<number>` or `inbound,<extension>`."""
        if self.args[:1] == ["trunk"]:
            return self.args[2] if len(self.args) >= 3 else ""
        if self.args[:1] == ["inbound"] and len(self.args) >= 2:
            return self.args[1]
        return ""

    @property
    def recording_prefix(self) -> str | None:
        recorder = self.media.recorder if self.media is not None else None
        return str(recorder.prefix) if recorder is not None else None

    async def transfer(self, target: TransferTarget) -> bool:
        """Ring `target`; when it answers, bridge it with the caller and leave the bridge.
        False (and the caller still with us) when it doesn't answer or can't be dialled."""
        channel_id = TRANSFER_CHANNEL_PREFIX + uuid.uuid4().hex[:12]
        loop = asyncio.get_running_loop()
        self.transfer_channel_id = channel_id
        self._transfer_gone = gone = loop.create_future()
        self.app.claim_channel(channel_id, self)
        answered = self.app.expect_stasis_start(channel_id)
        try:
            await self.client.originate(channel_id, target.endpoint, app_args="transfer",
                                        caller_id=self.caller_number,
                                        timeout_s=max(1, int(target.ring_timeout_s)))
            await asyncio.wait({answered, gone}, timeout=target.ring_timeout_s + 5,
                               return_when=asyncio.FIRST_COMPLETED)
            if not answered.done() or gone.done():
                log.info("call %s: %s did not answer", self.caller_id, target.endpoint)
                return False
            # Leave first, then let the human in: the bridge then never mixes three parties
            # and switches technology under the human's phone (which then sees a new
            # RTP SSRC mid-call; baresip drops that stream).
            self.transferred = True
            await self.client.remove_from_bridge(self.bridge_id, self.media_channel_id)
            await self.client.add_to_bridge(self.bridge_id, channel_id)
            log.info("call %s: transferred to %s", self.caller_id, target.endpoint)
            return True
        except AriError as exc:
            log.warning("call %s: transfer to %s failed: %s", self.caller_id, target.endpoint,
                        exc)
            if self.transferred:  # we left the bridge but the human never joined: come back
                self.transferred = False
                await tolerate_gone(self.client.add_to_bridge(self.bridge_id,
                                                              self.media_channel_id))
            return False
        finally:
            self.app.forget_stasis_wait(channel_id)
            if not self.transferred:
                await tolerate_gone(self.client.hangup(channel_id), f"call {self.caller_id}: ")
                self.transfer_channel_id = None

    def end(self, reason: str) -> None:
        if not self._ended.is_set():
            self.end_reason = reason
            self._ended.set()

    # ---- the call -------------------------------------------------------

    async def run(self) -> None:
        started = datetime.now(UTC)
        try:
            await self._set_up(started)
            await self._converse()
        except AriError as exc:
            # 404 here means the caller hung up while we were still setting up.
            level = logging.INFO if exc.status == 404 else logging.ERROR
            log.log(level, "call %s set-up stopped: %s", self.caller_id, exc)
        except TimeoutError:
            log.error("call %s: externalMedia channel never entered Stasis", self.caller_id)
        except Exception:
            log.exception("call %s failed", self.caller_id)
        finally:
            await self._tear_down()
            seconds = (datetime.now(UTC) - started).total_seconds()
            log.info("call %s ended after %.1f s (%s)", self.caller_id, seconds,
                     self.end_reason or "set-up failed")

    async def _set_up(self, started: datetime) -> None:
        options = self.options
        await self.client.answer(self.caller_id)
        await self.client.create_bridge(self.bridge_id)
        await self.client.add_to_bridge(self.bridge_id, self.caller_id)

        codec = codec_for_format(options.audio_format)
        recorder = CallRecorder(options.calls_log_dir, started, sample_rate=codec.sample_rate)
        self.media = await CallMedia.open(
            codec, self.clock, host=options.media_host, recorder=recorder,
            jitter_depth=options.jitter_depth,
        )

        self.app.claim_channel(self.media_channel_id, self)
        waiter = self.app.expect_stasis_start(self.media_channel_id)
        host, port = self.media.local_address
        try:
            created = await self.client.external_media(
                self.media_channel_id, f"{host}:{port}", options.audio_format
            )
            variables = created.get("channelvars", {})
            self.media.set_remote(
                (variables["UNICASTRTP_LOCAL_ADDRESS"], int(variables["UNICASTRTP_LOCAL_PORT"]))
            )
            # Asterisk sends nothing until media flows in the bridge: silence starts now.
            self.media.start()
            await asyncio.wait_for(waiter, EXTERNAL_MEDIA_READY_TIMEOUT_S)
        finally:
            self.app.forget_stasis_wait(self.media_channel_id)
        await self.client.add_to_bridge(self.bridge_id, self.media_channel_id)

    async def _converse(self) -> None:
        assert self.media is not None
        behaviour = asyncio.create_task(self.options.behaviour().run(self.media, self))
        reason = await converse(behaviour, self._ended, call_id=self.caller_id,
                                max_call_seconds=self.options.max_call_seconds,
                                is_transferred=lambda: self.transferred)
        self.end(reason)

    async def _tear_down(self) -> None:
        if self.media is not None:
            await self.media.close()
        context = f"call {self.caller_id}: "
        for channel_id in (self.media_channel_id, self.caller_id, self.transfer_channel_id):
            if channel_id is None:
                continue
            await tolerate_gone(self.client.hangup(channel_id), context)
        await tolerate_gone(self.client.destroy_bridge(self.bridge_id), context)
