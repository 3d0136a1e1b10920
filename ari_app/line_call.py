"""A call that Asterisk does not carry: a Twilio Media Stream, a GSM modem's voice port.

Such a call runs the very same behaviour (`SecretaryBehaviour`: listen, think, speak,
barge-in) as an Asterisk call, on a `CallMedia` over the line's `MediaLink`. What
differs is only what the far end can do, the `Line`: hang up, and put the caller
through to a human where the line knows how. `converse` is shared with
`CallSession`: a behaviour runs until it finishes, the caller goes, or the call has
lasted too long.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from media.call_media import CallMedia
from media.clock import FrameClock
from media.codecs import Codec
from media.link import MediaLink
from media.recorder import CallRecorder

if TYPE_CHECKING:
    from ari_app.behaviours import CallBehaviour
    from brain.persona import TransferTarget

log = logging.getLogger(__name__)


class Line(Protocol):
    """The far end of a call that is not Asterisk's."""

    async def hang_up(self) -> None:
        """End the call at the far end (the caller hears it hang up)."""

    async def transfer(self, target: TransferTarget) -> bool:
        """Put the caller through to `target`; False when this line can't or nobody answers
        (the secretary then keeps the caller, and offers to take a message)."""


@dataclass(frozen=True)
class LineCallOptions:
    calls_log_dir: Path
    jitter_depth: int = 3
    max_call_seconds: float = 3600.0


async def converse(behaviour: asyncio.Task[None], ended: asyncio.Event, *, call_id: str,
                   max_call_seconds: float, is_transferred: Callable[[], bool]) -> str:
    """Wait for the behaviour to finish or the call to end; return why the call ended.

    When the behaviour finished because the caller was put through to a human
    (`is_transferred()` true), the call lasts until either side hangs up."""
    ended_task = asyncio.create_task(ended.wait())
    try:
        done, _ = await asyncio.wait({behaviour, ended_task}, timeout=max_call_seconds,
                                     return_when=asyncio.FIRST_COMPLETED)
        if behaviour in done:
            failure = behaviour.exception()
            if failure is not None:
                log.error("call %s: behaviour failed", call_id, exc_info=failure)
                return "behaviour failed"
            if is_transferred():
                await asyncio.wait({ended_task}, timeout=max_call_seconds)
            return "conversation finished"
        if not done:
            return "maximum call length reached"
        return ""  # ended from outside: the caller of `end` gave the reason
    finally:
        for task in (behaviour, ended_task):
            task.cancel()
        await asyncio.gather(behaviour, ended_task, return_exceptions=True)


class LineCall:
    """One call on a non-Asterisk line; implements the behaviours' `CallControl`."""

    def __init__(self, line: Line, media: CallMedia, *, line_name: str, caller_number: str,
                 call_id: str | None = None) -> None:
        self.line = line
        self.media = media
        self.line_name = line_name
        self.caller_number = caller_number
        self.caller_id = call_id or f"{line_name}-{uuid.uuid4().hex[:12]}"
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.transferred = False
        self.end_reason = ""
        self._ended = asyncio.Event()

    @classmethod
    def open(cls, line: Line, link: MediaLink, codec: Codec, clock: FrameClock,
             options: LineCallOptions, *, line_name: str, caller_number: str,
             call_id: str | None = None) -> LineCall:
        """Build the call's media on `link` (recording from now on) and start its frames."""
        recorder = CallRecorder(options.calls_log_dir, datetime.now(UTC),
                                sample_rate=codec.sample_rate)
        media = CallMedia(codec, link, clock, recorder=recorder,
                          jitter_depth=options.jitter_depth)
        media.start()
        return cls(line, media, line_name=line_name, caller_number=caller_number,
                   call_id=call_id)

    # ---- CallControl ------------------------------------------------------

    @property
    def recording_prefix(self) -> str | None:
        recorder = self.media.recorder
        return str(recorder.prefix) if recorder is not None else None

    async def transfer(self, target: TransferTarget) -> bool:
        self.transferred = await self.line.transfer(target)
        return self.transferred

    # ---- lifetime ---------------------------------------------------------

    def end(self, reason: str) -> None:
        """The far end went (hung up, stream stopped, modem gone)."""
        if not self._ended.is_set():
            self.end_reason = reason
            self._ended.set()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def run(self, behaviour: CallBehaviour, max_call_seconds: float) -> str:
        """Talk until the conversation is over or the caller goes; then hang up (unless the
        caller was put through) and close the media. Returns why the call ended."""
        started = asyncio.get_running_loop().time()
        task = asyncio.create_task(behaviour.run(self.media, self))
        try:
            reason = await converse(task, self._ended, call_id=self.caller_id,
                                    max_call_seconds=max_call_seconds,
                                    is_transferred=lambda: self.transferred)
            self.end(reason)
            if reason and not self.transferred:  # we ended it: the far end must know
                await self._hang_up()
        finally:
            await self.media.close()
            log.info("%s call %s from %r ended after %.1f s (%s)", self.line_name,
                     self.caller_id, self.caller_number,
                     asyncio.get_running_loop().time() - started, self.end_reason)
        return self.end_reason

    async def _hang_up(self) -> None:
        try:
            await self.line.hang_up()
        except Exception as exc:  # the line may already be gone; the call is over anyway
            log.warning("%s call %s: hang-up failed: %s", self.line_name, self.caller_id, exc)


class LineCalls:
    """What every non-Asterisk line shares to run calls: the per-call behaviour maker, the
    process's frame clock and the options. It also keeps the calls in progress, so the
    process can end them cleanly when it stops."""

    def __init__(self, behaviour: Callable[[], CallBehaviour], clock: FrameClock,
                 options: LineCallOptions) -> None:
        self.behaviour = behaviour
        self.clock = clock
        self.options = options
        self._active: set[LineCall] = set()

    @property
    def active_calls(self) -> int:
        return len(self._active)

    def open(self, line: Line, link: MediaLink, codec: Codec, *, line_name: str,
             caller_number: str, call_id: str | None = None) -> LineCall:
        return LineCall.open(line, link, codec, self.clock, self.options,
                             line_name=line_name, caller_number=caller_number,
                             call_id=call_id)

    async def run(self, call: LineCall) -> str:
        """Run one call to its end (see `LineCall.run`)."""
        self._active.add(call)
        try:
            return await call.run(self.behaviour(), self.options.max_call_seconds)
        finally:
            self._active.discard(call)

    def end_all(self, reason: str) -> None:
        for call in list(self._active):
            call.end(reason)
