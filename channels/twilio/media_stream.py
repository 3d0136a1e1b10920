"""The Media Streams protocol (one websocket per call, JSON text messages) and the call's
`MediaLink` over it.

From Twilio: `connected`, then `start` (stream and call SIDs, our TwiML's parameters, the
media format), `media` (20 ms of base64 µ-law, numbered by `chunk`), `dtmf`, `mark` (a mark
we sent has been played) and `stop`. To Twilio: `media` (audio to play), `mark` and
`clear` (drop what is buffered: barge-in). A malformed message is a `StreamProtocolError`
the session counts and logs; it never ends the call.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from media.link import FrameLinkStats, FrameNumberer
from media.rtp import RtpPacket

log = logging.getLogger(__name__)

ULAW_PAYLOAD_TYPE = 0
FRAME_BYTES = 160  # 20 ms of 8 kHz µ-law
MAX_PAYLOAD_BYTES = 8000  # one second; Twilio sends 20 ms per message
SUPPORTED_FORMAT = ("audio/x-mulaw", 8000, 1)
SEND_QUEUE_FRAMES = 100  # 2 s of audio waiting for a slow socket, then frames are dropped


class StreamProtocolError(ValueError):
    """A message that is not the Media Streams protocol (bad JSON, missing fields)."""


class UnknownEvent(StreamProtocolError):
    """A well-formed message of an event this side does not know."""


class UnsupportedFormat(StreamProtocolError):
    """The stream's media is not 8 kHz mono µ-law: the call cannot be carried."""


@dataclass(frozen=True, slots=True)
class Connected:
    protocol: str


@dataclass(frozen=True, slots=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str
    custom_parameters: Mapping[str, str] = field(default_factory=dict)
    tracks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Media:
    track: str
    chunk: int | None
    payload: bytes


@dataclass(frozen=True, slots=True)
class Mark:
    name: str


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Stop:
    call_sid: str


StreamEvent = Connected | Start | Media | Mark | Dtmf | Stop


def parse_message(text: str | bytes) -> StreamEvent:
    """One websocket message as an event; `StreamProtocolError` says what is wrong."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StreamProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise StreamProtocolError("not a JSON object")
    event = message.get("event")
    if event == "media":
        return _media(_section(message, "media"))
    if event == "start":
        return _start(message)
    if event == "mark":
        return Mark(_text(_section(message, "mark"), "name"))
    if event == "dtmf":
        return Dtmf(_text(_section(message, "dtmf"), "digit"))
    if event == "stop":
        stop = message.get("stop")
        return Stop(_text(stop, "callSid") if isinstance(stop, dict) else "")
    if event == "connected":
        return Connected(str(message.get("protocol", "")))
    raise UnknownEvent(f"unknown event {str(event)[:40]!r}")


def _section(message: dict[str, Any], name: str) -> dict[str, Any]:
    section = message.get(name)
    if not isinstance(section, dict):
        raise StreamProtocolError(f"{message.get('event')}: no {name!r} object")
    return section


def _text(section: dict[str, Any], name: str) -> str:
    value = section.get(name)
    if not isinstance(value, str):
        raise StreamProtocolError(f"{name!r} missing or not a string")
    return value


def _media(media: dict[str, Any]) -> Media:
    raw = _text(media, "payload")
    if len(raw) > MAX_PAYLOAD_BYTES * 4 // 3 + 4:
        raise StreamProtocolError(f"media payload of {len(raw)} characters is too big")
    try:
        payload = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise StreamProtocolError("media payload is not base64") from None
    chunk = media.get("chunk")
    chunk_number = int(chunk) if isinstance(chunk, str | int) and str(chunk).isdigit() else None
    return Media(str(media.get("track", "inbound")), chunk_number, payload)


def _start(message: dict[str, Any]) -> Start:
    start = _section(message, "start")
    media_format = start.get("mediaFormat")
    if not isinstance(media_format, dict):
        raise StreamProtocolError("start: no mediaFormat")
    found = (media_format.get("encoding"), media_format.get("sampleRate"),
             media_format.get("channels"))
    if found != SUPPORTED_FORMAT:
        raise UnsupportedFormat(f"media format {found} is not supported; the stream must be "
                                "audio/x-mulaw at 8000 Hz, 1 channel")
    parameters = start.get("customParameters") or {}
    if not isinstance(parameters, dict):
        raise StreamProtocolError("start: customParameters is not an object")
    tracks = start.get("tracks") or ()
    return Start(
        stream_sid=_text(start, "streamSid"), call_sid=_text(start, "callSid"),
        account_sid=str(start.get("accountSid", "")),
        custom_parameters={str(k): str(v) for k, v in parameters.items()},
        tracks=tuple(str(t) for t in tracks) if isinstance(tracks, list) else ())


class TwilioMediaLink:
    """A call's frames over its Media Stream (`media.link.MediaLink`).

    In: each `media` payload is cut into 20 ms frames and numbered (by Twilio's `chunk`
    when it sends whole frames) for the jitter buffer. Out: each tick's frame becomes a
    `media` message, queued for a writer task, so the frame clock never waits on a socket;
    when the socket is gone or too slow, frames are dropped and counted, never buffered
    without bound. Barge-in sends `clear`: Twilio buffers what it is sent."""

    def __init__(self, stream_sid: str, send: Callable[[str], Awaitable[None]],
                 queue_frames: int = SEND_QUEUE_FRAMES) -> None:
        self.stream_sid = stream_sid
        self._send = send
        self.on_packet: Callable[[RtpPacket], Any] | None = None
        self.payload_types: Collection[int] | None = None
        self._stats = FrameLinkStats()
        self._numberer = FrameNumberer(ULAW_PAYLOAD_TYPE)
        self._partial = bytearray()  # inbound bytes short of a whole frame
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(queue_frames)
        self._sid_json = json.dumps(stream_sid)
        self._closed = False
        self._gone = False
        self.clears_sent = 0
        self.marks_sent = 0
        self._writer: asyncio.Task[None] | None = None

    @property
    def stats(self) -> FrameLinkStats:
        return self._stats

    def start(self) -> None:
        """Start the writer (on the running loop)."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())

    # ---- in -----------------------------------------------------------------------

    def receive(self, media: Media) -> None:
        """An inbound `media` message: its frames go to the pipeline."""
        self._stats.received += 1
        if media.track not in ("inbound", "inbound_track"):
            return  # only the caller's side is ours to hear
        hook = self.on_packet
        if hook is None or (self.payload_types is not None
                            and ULAW_PAYLOAD_TYPE not in self.payload_types):
            return
        if len(media.payload) == FRAME_BYTES and not self._partial and media.chunk is not None:
            # Twilio's own numbering: a lost message shows as a gap to conceal
            hook(self._numberer.packet(media.payload, FRAME_BYTES, media.chunk))
            self._stats.delivered += 1
            return
        self._partial += media.payload
        while len(self._partial) >= FRAME_BYTES:
            frame = bytes(self._partial[:FRAME_BYTES])
            del self._partial[:FRAME_BYTES]
            hook(self._numberer.packet(frame, FRAME_BYTES))
            self._stats.delivered += 1

    def count_malformed(self) -> None:
        self._stats.malformed += 1

    # ---- out (MediaLink) ------------------------------------------------------------

    def send_frame(self, payload: bytes, samples: int) -> None:
        encoded = base64.b64encode(payload).decode("ascii")
        # written by hand: json.dumps per frame, 50 times a second per call, is waste
        self._queue_message(f'{{"event":"media","streamSid":{self._sid_json},'
                            f'"media":{{"payload":"{encoded}"}}}}', frame=True)

    def skip(self, samples: int) -> None:
        """Twilio plays media messages back to back: a skipped tick is simply not sent."""

    def clear_far_end(self) -> None:
        """Barge-in: frames not yet written are dropped here, and Twilio drops those it
        holds (`clear`)."""
        dropped = 0
        while not self._queue.empty():
            if self._queue.get_nowait() is not None:
                dropped += 1
        self._stats.unsent += dropped
        self.clears_sent += 1
        self._queue_message(json.dumps({"event": "clear", "streamSid": self.stream_sid}))

    def send_mark(self, name: str) -> None:
        """Ask Twilio to report (a `mark` event) once everything sent so far was played."""
        self.marks_sent += 1
        self._queue_message(json.dumps({"event": "mark", "streamSid": self.stream_sid,
                                        "mark": {"name": name}}))

    def close(self) -> None:
        """No more frames (the call's media closed); the writer finishes what is queued."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        if self._writer is None or self._queue.full():
            self._gone = True

    async def drained(self, timeout_s: float = 2.0) -> None:
        """Wait (bounded) for the writer to send what was queued before `close`."""
        writer = self._writer
        if writer is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(writer), timeout_s)
        except TimeoutError:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def socket_gone(self) -> None:
        """The websocket closed: whatever is still to send is dropped."""
        self._gone = True
        self._closed = True
        if self._writer is not None:
            self._writer.cancel()

    def _queue_message(self, text: str, frame: bool = False) -> None:
        if self._closed or self._gone:
            if frame:
                self._stats.unsent += 1
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:  # the socket is not keeping up: drop, never grow
            if frame:
                self._stats.unsent += 1
            return
        if frame:
            self._stats.sent += 1

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            try:
                await self._send(text)
            except (ConnectionError, RuntimeError) as exc:  # closed under us
                log.info("stream %s: socket gone while sending (%s)", self.stream_sid, exc)
                self._gone = True
                self._closed = True
                self._stats.unsent += self._queue.qsize() + 1  # what never left
                return
