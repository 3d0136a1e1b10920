"""A call on a line that is not Asterisk's runs a behaviour over a `MediaLink`: frames the
far end sends reach the behaviour, what it says reaches the far end paced one frame per
tick, the call is recorded, and the far end is told to hang up only when we end the call."""

from __future__ import annotations

import asyncio
import wave
from typing import Any

import numpy as np
import pytest

from ari_app.behaviours import EchoBehaviour, Greeting
from ari_app.line_call import LineCallOptions, LineCalls
from media.clock import FrameClock
from media.codecs import ULawCodec
from media.link import FrameLinkStats, FrameNumberer
from media.rtp import RtpPacket


class QueueLink:
    """The far end of a line, in memory: frames it "sends" are queued in, frames the call
    sends are kept in order."""

    def __init__(self) -> None:
        self.on_packet: Any = None
        self.payload_types: Any = None
        self.stats = FrameLinkStats()
        self.sent: list[bytes] = []
        self.skipped = 0
        self.closed = False
        self._numbers = FrameNumberer(0)

    def deliver(self, payload: bytes) -> None:
        self.stats.delivered += 1
        assert self.on_packet is not None, "the call's media is not listening"
        self.on_packet(self._numbers.packet(payload, len(payload)))

    def send_frame(self, payload: bytes, samples: int) -> None:
        self.stats.sent += 1
        self.sent.append(payload)

    def skip(self, samples: int) -> None:
        self.skipped += samples

    def close(self) -> None:
        self.closed = True


class RecordingLine:
    def __init__(self) -> None:
        self.hung_up = 0

    async def hang_up(self) -> None:
        self.hung_up += 1

    async def transfer(self, target: Any) -> bool:
        return False


class SayThenHangUp:
    """Says a tone, waits for it to be heard, then ends the conversation."""

    def __init__(self, pcm16: bytes) -> None:
        self.pcm16 = pcm16

    async def run(self, media: Any, call: Any) -> None:
        media.play(self.pcm16)
        media.finish_play()
        for _ in range(500):  # bounded: 10 s
            if media.playout.is_idle:
                return
            await asyncio.sleep(0.02)


def tone(seconds: float, freq: float = 700.0) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16).tobytes()


@pytest.fixture
async def clock():
    c = FrameClock()
    c.start()
    yield c
    c.stop()


async def test_behaviour_speaks_over_the_link_and_we_hang_up(tmp_path, clock) -> None:
    lines = LineCalls(lambda: SayThenHangUp(tone(0.4)), clock,
                      LineCallOptions(calls_log_dir=tmp_path))
    link, line = QueueLink(), RecordingLine()
    call = lines.open(line, link, ULawCodec(), line_name="test", caller_number="+100")
    assert lines.active_calls == 0
    reason = await asyncio.wait_for(lines.run(call), 10)

    assert reason == "conversation finished"
    assert line.hung_up == 1
    assert link.closed and link.on_packet is None
    codec = ULawCodec()
    heard = np.frombuffer(b"".join(codec.decode(p) for p in link.sent), np.int16)
    loud = np.flatnonzero(np.abs(heard) > 2000)
    assert loud.size and (loud[-1] - loud[0]) / 8000 == pytest.approx(0.4, abs=0.03)
    assert all(len(p) == 160 for p in link.sent)  # one 20 ms frame per tick
    with wave.open(str(call.media.recorder.output_path)) as wav:
        assert wav.getnframes() >= 0.4 * 8000


async def test_far_end_going_ends_the_call_without_a_hang_up(tmp_path, clock) -> None:
    greeting = Greeting(tone(0.1), 8000)
    lines = LineCalls(lambda: EchoBehaviour(greeting), clock,
                      LineCallOptions(calls_log_dir=tmp_path))
    link, line = QueueLink(), RecordingLine()
    call = lines.open(line, link, ULawCodec(), line_name="test", caller_number="+200")
    running = asyncio.create_task(lines.run(call))
    echo_in = ULawCodec().encode(tone(0.02, 300))
    for _ in range(40):  # the caller talks for 0.8 s, paced
        link.deliver(echo_in)
        await asyncio.sleep(0.02)
    assert lines.active_calls == 1
    call.end("far end: stop")
    assert await asyncio.wait_for(running, 5) == "far end: stop"
    assert line.hung_up == 0  # the far end went first; nothing to tell it
    assert lines.active_calls == 0
    assert echo_in in link.sent  # the caller heard itself after the greeting
    with wave.open(str(call.media.recorder.input_path)) as wav:
        said = np.frombuffer(wav.readframes(wav.getnframes()), np.int16)
    assert np.abs(said).max() > 2000


async def test_frame_numberer_orders_frames_for_the_jitter_buffer() -> None:
    numbers = FrameNumberer(0)
    first = numbers.packet(b"a" * 160, 160)
    second = numbers.packet(b"b" * 160, 160, sequence=65535)
    third = numbers.packet(b"c" * 160, 160)
    assert isinstance(first, RtpPacket)
    assert (first.sequence, second.sequence, third.sequence) == (0, 65535, 0)
    assert (first.timestamp, second.timestamp, third.timestamp) == (0, 160, 320)
