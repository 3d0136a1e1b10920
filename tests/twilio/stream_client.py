"""A Media Streams client, as Twilio is one: it connects to the app's websocket, sends
`connected` and `start`, then one `media` message every 20 ms for as long as the call
lasts (what the caller says, else line silence), and records everything it is sent."""

from __future__ import annotations

import asyncio
import base64
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import ClientWebSocketResponse, WSMsgType

from media.codecs import ULawCodec

FRAME = 160  # bytes of µ-law per 20 ms
SILENCE = b"\xff" * FRAME
VOICED_RMS = 300  # a frame louder than this is speech, not line silence
ULAW = ULawCodec()


def frame_rms(ulaw: bytes) -> float:
    pcm = np.frombuffer(ULAW.decode(ulaw), dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(pcm * pcm))) if len(pcm) else 0.0


def parse_stream_twiml(document: str) -> tuple[str, dict[str, str]]:
    """The `<Stream url>` and its `<Parameter>`s from the voice webhook's TwiML."""
    stream = ET.fromstring(document).find("./Connect/Stream")
    assert stream is not None, document
    params = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], params


def start_message(stream_sid: str, call_sid: str, params: dict[str, str],
                  account_sid: str = "ACtest", encoding: str = "audio/x-mulaw",
                  rate: int = 8000) -> dict[str, Any]:
    return {"event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
            "start": {"accountSid": account_sid, "streamSid": stream_sid,
                      "callSid": call_sid, "tracks": ["inbound"],
                      "customParameters": params,
                      "mediaFormat": {"encoding": encoding, "sampleRate": rate,
                                      "channels": 1}}}


@dataclass
class Received:
    at: float  # loop time
    message: dict[str, Any]
    rms: float = 0.0  # of a media frame, decoded


@dataclass
class StreamClient:
    ws: ClientWebSocketResponse
    stream_sid: str
    call_sid: str
    received: list[Received] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    start_params: dict[str, str] = field(default_factory=dict)
    _speech: bytearray = field(default_factory=bytearray)
    _spoken: asyncio.Event = field(default_factory=asyncio.Event)
    _spoken_at: float = 0.0
    _sequence: int = 1
    _chunk: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    paced: bool = False  # media flows every 20 ms once `start_media` ran

    # ---- sending ---------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def connect_and_start(self, params: dict[str, str], **start: Any) -> None:
        self.start_params = dict(params)
        await self.send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send(start_message(self.stream_sid, self.call_sid, params, **start))

    def start_media(self) -> None:
        self._tasks = [asyncio.create_task(self._pace()), asyncio.create_task(self._listen())]
        self.paced = True

    def listen_only(self) -> None:
        self._tasks = [asyncio.create_task(self._listen())]

    async def say(self, ulaw: bytes, within_s: float = 30.0) -> float:
        """Speak `ulaw` (paced with the media); returns the loop time its last frame left."""
        self._spoken.clear()
        self._speech += ulaw
        await asyncio.wait_for(self._spoken.wait(), within_s)
        return self._spoken_at

    async def dtmf(self, digit: str) -> None:
        await self.send({"event": "dtmf", "streamSid": self.stream_sid,
                         "sequenceNumber": str(self._next_sequence()),
                         "dtmf": {"track": "inbound_track", "digit": digit}})

    async def stop(self) -> None:
        await self.send({"event": "stop", "streamSid": self.stream_sid,
                         "sequenceNumber": str(self._next_sequence()),
                         "stop": {"accountSid": "ACtest", "callSid": self.call_sid}})

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.ws.close()

    def _next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self.ws.closed:
            if self._speech:
                frame = bytes(self._speech[:FRAME]).ljust(FRAME, b"\xff")
                del self._speech[:FRAME]
                if not self._speech:
                    self._spoken_at = loop.time()
                    self._spoken.set()
            else:
                frame = SILENCE
            self._chunk += 1
            try:
                await self.send({"event": "media", "streamSid": self.stream_sid,
                                 "sequenceNumber": str(self._next_sequence()),
                                 "media": {"track": "inbound", "chunk": str(self._chunk),
                                           "timestamp": str(self._chunk * 20),
                                           "payload": base64.b64encode(frame).decode()}})
            except ConnectionError:
                return
            next_at += 0.020
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    # ---- receiving ---------------------------------------------------------------

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await self.ws.receive()
            if message.type == WSMsgType.CLOSE:
                self.close_reason = str(message.extra or "")
            if message.type != WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            rms = 0.0
            if data.get("event") == "media":
                payload = base64.b64decode(data["media"]["payload"])
                rms = frame_rms(payload)
            self.received.append(Received(loop.time(), data, rms))
        self.close_code = self.ws.close_code

    def events(self, name: str) -> list[Received]:
        return [r for r in self.received if r.message.get("event") == name]

    async def wait_for(self, condition: Any, within_s: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while not condition():
            if loop.time() > deadline:
                raise AssertionError(f"{what}: not within {within_s} s")
            await asyncio.sleep(0.02)

    def first_voiced_after(self, t: float) -> Received | None:
        return next((r for r in self.events("media") if r.at > t and r.rms > VOICED_RMS),
                    None)

    async def utterance_after(self, t: float, *, quiet_s: float = 1.0,
                              within_s: float = 60.0) -> tuple[float, bytes]:
        """The next thing the secretary says after loop time `t`: (when its first voiced
        frame arrived, its µ-law from there until `quiet_s` of silence)."""
        await self.wait_for(lambda: self.first_voiced_after(t) is not None, within_s,
                            "the secretary said nothing")
        first = self.first_voiced_after(t)
        assert first is not None

        def quiet() -> bool:
            voiced = [r.at for r in self.events("media") if r.at >= first.at and r.rms > VOICED_RMS]
            return self.ws.closed or asyncio.get_running_loop().time() - voiced[-1] > quiet_s

        await self.wait_for(quiet, within_s, "the secretary never stopped talking")
        frames = [r for r in self.events("media") if r.at >= first.at]
        audio = b"".join(base64.b64decode(r.message["media"]["payload"]) for r in frames)
        return first.at, audio

