"""A phone call on the GSM line, end to end through the real secretary: the simulated
SIM7600 rings with a caller id, the driver answers and switches the voice to the PCM port,
the simulator plays a Piper-spoken "Where are you located?" as 8 kHz PCM, Whisper hears it
inside the call, Anna's FAQ answers, and what comes back on the PCM port, transcribed with
Whisper again, says "Baker Street". Then the same with the modem vanishing mid-call."""

from __future__ import annotations

import asyncio
import contextlib
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ari_app.behaviours import CallBehaviour
from ari_app.line_call import LineCallOptions, LineCalls
from ari_app.playback import PhraseCache
from ari_app.secretary_behaviour import DialogueTiming, SecretaryBehaviour
from brain.store import Store
from channels.gsm.modem import Sim7600
from channels.gsm.service import GsmService
from channels.gsm.store import SmsStore
from media.clock import FrameClock
from media.resample import resample_all
from media.stt import FasterWhisperStt
from secretary import speech
from secretary.gsm import GsmCalls
from secretary.settings import Settings, SttSettings
from tests.gsm.conftest import fast_config, until
from tests.gsm.sim7600 import Sim7600Simulator
from tests.web.speech_services import brains, piper_engines, whisper_tiny_en
from voices.chain import VoiceSynthesizer
from voices.profile import load_profile

VOICES = Path(__file__).resolve().parents[2] / "voices"
CALLER = "+79161234567"
LINE_RATE = 8000
FRAME = 320


@dataclass
class Line:
    sim: Sim7600Simulator
    service: GsmService
    calls: GsmCalls
    lines: LineCalls
    store: Store
    calls_log: Path
    whisper: FasterWhisperStt
    voice: VoiceSynthesizer


@pytest.fixture
async def line(tmp_path: Path, sim: Sim7600Simulator) -> AsyncIterator[Line]:
    store = await Store.open(f"sqlite:///{tmp_path / 'secretary.db'}")
    settings = Settings(state_dir=tmp_path / "state", stt=SttSettings(language="en"))
    recognizers = await asyncio.to_thread(speech.recognizer_factory, settings)
    brain = brains(store)["anna"]
    voice = VoiceSynthesizer(load_profile(VOICES / "anna"), piper_engines())
    cache = PhraseCache(voice, size=16)

    def behaviour() -> CallBehaviour:
        return SecretaryBehaviour(brain, recognizers, voice, cache,
                                  DialogueTiming(silence_prompt_s=30.0))

    clock = FrameClock()
    clock.start()
    calls_log = tmp_path / "calls_log"
    lines = LineCalls(behaviour, clock, LineCallOptions(calls_log_dir=calls_log,
                                                        max_call_seconds=120))
    service = GsmService(Sim7600(fast_config(sim)), SmsStore(store))
    calls = GsmCalls(service, lines)
    service.calls = calls
    await service.start()
    try:
        await service.modem.wait_ready(5)
        yield Line(sim, service, calls, lines, store, calls_log, whisper_tiny_en(), voice)
    finally:
        await calls.stop()
        await service.stop()
        clock.stop()
        await store.close()


async def speak(voice: VoiceSynthesizer, text: str) -> bytes:
    pcm, rate = bytearray(), 0
    async for chunk in voice.stream(text):
        rate = rate or chunk.sample_rate
        pcm += chunk.pcm16
    return resample_all(bytes(pcm), rate, LINE_RATE)


def loud(frame: bytes) -> bool:
    return bool(np.abs(np.frombuffer(frame, "<i2").astype(np.int32)).max() > 500)


def speech_then_quiet(pcm: bytes, quiet_s: float) -> int | None:
    """Where the first loud frame is, once `quiet_s` of silence follows the last one."""
    frames = [pcm[i:i + FRAME] for i in range(0, len(pcm) - FRAME + 1, FRAME)]
    loud_at = [i for i, f in enumerate(frames) if loud(f)]
    if not loud_at or len(frames) - 1 - loud_at[-1] < quiet_s * 50:
        return None
    return loud_at[0]


async def until_spoken(sim: Sim7600Simulator, since: int, within_s: float,
                       quiet_s: float = 1.0) -> bytes:
    deadline = time.monotonic() + within_s
    while speech_then_quiet(bytes(sim.received_pcm[since:]), quiet_s) is None:
        assert time.monotonic() < deadline, "the secretary said nothing on the PCM port"
        await asyncio.sleep(0.1)
    return bytes(sim.received_pcm[since:])


async def test_an_incoming_gsm_call_is_answered_by_the_secretary(line: Line) -> None:
    sim = line.sim
    question = await speak(line.voice, "Where are you located?")
    sim.ring(CALLER)
    await until(lambda: sim.state.call == "active" and sim.state.pcmreg, 5, "the answer")
    assert sim.state.commands.index("ATA") < sim.state.commands.index("AT+CPCMREG=1")

    greeting = await until_spoken(sim, 0, within_s=60)  # Anna greets first
    heard_greeting = await asyncio.to_thread(line.whisper.transcribe, greeting, LINE_RATE,
                                             "en")
    assert "help" in heard_greeting.text.lower(), heard_greeting.text
    mark = len(sim.received_pcm)
    sim.play(question)
    await until(lambda: not sim.play_queue, 10, "the question played")
    question_end = time.monotonic()
    reply_at = None
    deadline = time.monotonic() + 90
    while speech_then_quiet(bytes(sim.received_pcm[mark:]), 1.0) is None:
        assert time.monotonic() < deadline, "no answer on the PCM port"
        if reply_at is None and speech_then_quiet(bytes(sim.received_pcm[mark:]), 0.0) \
                is not None:
            reply_at = time.monotonic()  # the first reply frame reached the modem
        await asyncio.sleep(0.02)
    answer = bytes(sim.received_pcm[mark:])
    heard = await asyncio.to_thread(line.whisper.transcribe, answer, LINE_RATE, "en")
    assert "baker street" in heard.text.lower(), heard.text
    if reply_at is not None:
        print(f"GSM reply latency (question end on the PCM port -> first reply audio back): "
              f"{(reply_at - question_end) * 1000:.0f} ms")

    sim.remote_hang_up()
    await until(lambda: line.lines.active_calls == 0, 10, "the call to end")
    [record] = await line.store.recent_calls()
    assert record.caller == CALLER and record.ended_at is not None
    turns = await line.store.turns(record.id)
    assert any("located" in t.text.lower() for t in turns if t.role == "caller")
    assert any("Baker Street" in t.text for t in turns if t.role == "secretary")
    caller_wav, secretary_wav = recordings(record.recording_prefix)
    assert caller_wav > 2 * LINE_RATE and secretary_wav > 2 * LINE_RATE
    assert len(sim.received_pcm) % FRAME == 0  # whole 320-byte frames, one per tick


async def test_the_modem_vanishing_mid_call(line: Line) -> None:
    sim = line.sim
    sim.ring(CALLER)
    await until(lambda: line.lines.active_calls == 1, 5, "the call to start")
    await until_spoken(sim, 0, within_s=60, quiet_s=0.3)  # media flows both ways
    sim.unplug()
    await until(lambda: line.lines.active_calls == 0, 10, "the call to end")
    assert not line.service.status().connected
    assert line.calls.call is None
    [record] = await line.store.recent_calls()
    assert record.ended_at is not None
    caller_wav, secretary_wav = recordings(record.recording_prefix)
    assert caller_wav > 0 and secretary_wav > 0  # closed, readable WAVs
    sim.replug()
    await until(lambda: line.service.status().connected, 10, "the modem back")
    # and the line takes the next call
    sim.ring(CALLER)
    await until(lambda: line.lines.active_calls == 1 and sim.state.pcmreg, 5, "a new call")
    sim.remote_hang_up()
    await until(lambda: line.lines.active_calls == 0, 10, "the second call to end")


def recordings(prefix: str | None) -> tuple[int, int]:
    """Frames in the caller's and the secretary's WAV (each must open as a valid WAV)."""
    assert prefix is not None
    counts = []
    for side in ("input", "output"):
        with contextlib.closing(wave.open(f"{prefix}_{side}.wav", "rb")) as wav:
            assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) \
                == (LINE_RATE, 2, 1)
            counts.append(wav.getnframes())
    return counts[0], counts[1]
