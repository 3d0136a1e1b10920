"""UtteranceRecognizer's scheduling, with an exact VAD and a scripted recogniser: the pass
starts at the pause and becomes the final, resumed speech discards it, finals come in
turn order through the async wrapper, failures reach the caller. (Real engines on real
speech: test_stt_whisper.py.)"""

import asyncio
import threading

import numpy as np
import pytest

from media.stt import (
    AsyncUtteranceRecognizer,
    FinalPending,
    SegmentStt,
    SttCancelled,
    SttError,
    Transcript,
    UtteranceRecognizer,
)
from media.turn import SilenceStarted, SpeechResumed, TurnDetector, TurnEnded
from tests.unit.energy_vad import EnergyVad

RATE = 8000
FRAME = 320


class ScriptedStt(SegmentStt):
    """Says how long the audio was; waits on `gate` so tests control when a pass ends."""

    name = "scripted"

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = fail
        self.cancelled = 0

    def available(self):
        return True, ""

    def transcribe(self, pcm16, sample_rate, language=None, *, cancel=None):
        self.calls.append(len(pcm16))
        self.gate.wait(10)
        if cancel is not None and cancel.is_set():
            self.cancelled += 1
            raise SttCancelled("stale")
        if self.fail:
            raise SttError("engine broke")
        ms = len(pcm16) * 1000 // 2 // sample_rate
        return Transcript(f"{ms} ms", True, 0, ms, language, 0.9)


def tone(ms: int) -> bytes:
    t = np.arange(ms * RATE // 1000)
    return (np.sin(2 * np.pi * 300 * t / RATE) * 8000).astype(np.int16).tobytes()


def quiet(ms: int) -> bytes:
    return bytes(ms * RATE // 1000 * 2)


def push_all(rec, pcm: bytes):
    events = []
    for i in range(0, len(pcm), FRAME):
        events += rec.push(pcm[i:i + FRAME])
    return events


def make(stt, **kw):
    return UtteranceRecognizer(TurnDetector(EnergyVad(), hangover_ms=300, pause_ms=100,
                                            pre_roll_ms=200), stt, language="en", **kw)


def test_pass_started_at_the_pause_is_the_final():
    stt = ScriptedStt()
    rec = make(stt)
    stt.gate.clear()
    events = push_all(rec, quiet(1000) + tone(1000) + quiet(140))
    assert isinstance(events[-1], SilenceStarted) and len(stt.calls) <= 1
    events = push_all(rec, quiet(200))
    (pending,) = [e for e in events if isinstance(e, FinalPending)]
    assert pending.early and isinstance(events[events.index(pending) - 1], TurnEnded)
    stt.gate.set()
    final = pending.final.result(timeout=5)
    # the pass saw 200 ms pre-roll + 1000 ms speech + 100 ms of pause
    assert final.text == "1300 ms" and final.is_final and final.language == "en"
    assert (final.start_ms, final.end_ms) == (1000, 2000)
    assert stt.calls == [1300 * 16] and rec.discarded_passes == 0
    rec.close()


def test_resumed_speech_discards_the_early_pass():
    stt = ScriptedStt()
    rec = make(stt)
    stt.gate.clear()  # hold the first pass so it is still running when speech resumes
    events = push_all(rec, quiet(500) + tone(800) + quiet(200) + tone(600) + quiet(500))
    assert [type(e).__name__ for e in events].count("SpeechResumed") == 1
    assert any(isinstance(e, SpeechResumed) for e in events)
    (pending,) = [e for e in events if isinstance(e, FinalPending)]
    assert rec.discarded_passes == 1 and pending.early
    stt.gate.set()
    final = pending.final.result(timeout=5)
    assert (final.start_ms, final.end_ms) == (500, 2100)
    assert final.text == "1900 ms"  # 200 pre-roll + 800 + 200 + 600 + 100 tail
    assert stt.cancelled == 1  # the stale pass saw its cancel event
    rec.close()


def test_without_early_pass_the_pass_runs_at_turn_end():
    stt = ScriptedStt()
    rec = make(stt, early_pass=False)
    events = push_all(rec, tone(600) + quiet(400))
    (pending,) = [e for e in events if isinstance(e, FinalPending)]
    assert not pending.early and pending.final.result(timeout=5).text == "700 ms"
    assert len(stt.calls) == 1
    rec.close()


async def test_async_finals_in_turn_order_and_errors():
    stt = ScriptedStt()
    rec = AsyncUtteranceRecognizer(make(stt))
    push_all(rec, tone(1000) + quiet(400) + tone(300) + quiet(400))
    first = await asyncio.wait_for(rec.next_final(), 5)
    second = await asyncio.wait_for(rec.next_final(), 5)
    assert (first.text, second.text) == ("1100 ms", "500 ms")  # pre-roll capped at start
    rec.close()

    broken = AsyncUtteranceRecognizer(make(ScriptedStt(fail=True)))
    push_all(broken, tone(400) + quiet(400))
    with pytest.raises(SttError, match="engine broke"):
        await asyncio.wait_for(broken.next_final(), 5)
    broken.close()


def test_flush_ends_the_turn_with_a_final():
    stt = ScriptedStt()
    rec = make(stt)
    push_all(rec, tone(500))
    events = rec.flush()
    (pending,) = [e for e in events if isinstance(e, FinalPending)]
    assert pending.turn.reason == "flush" and pending.final.result(timeout=5).text == "500 ms"
    rec.close()
