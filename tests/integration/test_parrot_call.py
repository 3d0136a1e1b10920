"""Hearing and speaking on a real call: the caller's words are recognised and said back.

The caller speaks a sentence synthesised by the project's own TTS; the secretary (mode
"parrot") recognises the turn with Whisper and answers "You said: ..." in the persona's
voice; the caller's recording is transcribed and must contain the sentence.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import numpy as np
import pytest

from ari_app.behaviours import load_wav
from secretary import speech
from secretary.settings import Settings
from tests.integration.conftest import start_secretary, stop_secretary, wait_for_no_leftovers
from tests.integration.test_phone_call import RATE, greeting_8k
from tests.signal_analysis import find_sound, to_rate
from tests.sip_caller import read_wav, write_wav
from voices.base import collect_audio

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def speech_engines():
    settings = Settings()
    engines = speech.build_tts(settings)
    voice = speech.build_voice(settings, engines, "anna")
    stt = speech.build_segment_stt(settings)
    yield voice, stt
    engines.close()


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


async def speak_after_greeting(voice, text: str, path: Path, before_s: float, after_s: float):
    audio = await collect_audio(voice.stream(text))
    samples = to_rate(np.frombuffer(audio.pcm16, "<i2").astype(np.float64), audio.sample_rate,
                      RATE)
    silence = np.zeros
    return write_wav(path, np.concatenate([silence(int(before_s * RATE)), samples,
                                           silence(int(after_s * RATE))]))


@pytest.mark.parametrize(
    ("language", "said", "expected"),
    [
        ("en", "Please call me back tomorrow morning.", ["you", "said", "call", "back",
                                                          "tomorrow", "morning"]),
        # Russian goes festival -> phone line -> Whisper twice: check word stems.
        ("ru", "Перезвоните мне завтра утром.", ["сказал", "перезвон", "завтр", "утр"]),
    ],
)
async def test_secretary_hears_the_caller_and_says_it_back(
    asterisk_server, ari, speech_engines, tmp_path: Path, language: str, said: str,
    expected: list[str],
) -> None:
    """`expected` are word stems the caller must hear in the reply."""
    voice, stt = speech_engines
    running = start_secretary(tmp_path, extra_env={"SECRETARY_CALL__MODE": "parrot"})
    try:
        speak = await speak_after_greeting(voice, said, tmp_path / "speak.wav", 5.0, 12.0)
        caller = running.caller(tmp_path / "caller", speak, seconds=18)
        await caller.start()
        assert await caller.wait() == 0

        heard, _ = caller.heard()
        greeting = greeting_8k(running)
        start, score = find_sound(heard, greeting)
        assert score > 0.8
        reply = heard[start + len(greeting) :]
        pcm = np.clip(reply, -32768, 32767).astype("<i2").tobytes()
        transcript = await asyncio.to_thread(stt.transcribe, pcm, RATE, language)
        heard_words = words(transcript.text)
        missing = [s for s in expected if not any(h.startswith(s) for h in heard_words)]
        assert not missing, f"caller heard {transcript.text!r}; missing {missing}"

        [recording] = running.recordings("input")
        said_back = await asyncio.to_thread(
            stt.transcribe, np.clip(read_wav(recording)[0], -32768, 32767).astype("<i2")
            .tobytes(), RATE, language)
        assert len(set(words(said)) & set(words(said_back.text))) >= len(words(said)) - 1
        assert "heard (" in running.log_text()
        channels, bridges = await wait_for_no_leftovers(ari)
        assert channels == [] and bridges == []
    finally:
        stop_secretary(running)


async def test_caller_hears_the_recorded_apology_when_no_voice_can_speak(
    asterisk_server, ari, speech_engines, tmp_path: Path
) -> None:
    """Festival is missing, so nothing can speak Russian: the persona's apology.wav plays."""
    voice, _ = speech_engines
    running = start_secretary(tmp_path, extra_env={
        "SECRETARY_CALL__MODE": "parrot",
        "SECRETARY_TTS__FESTIVAL_BINARY": str(tmp_path / "no-festival-here"),
    })
    try:
        speak = await speak_after_greeting(voice, "Перезвоните мне завтра.", tmp_path / "s.wav",
                                           5.0, 10.0)
        caller = running.caller(tmp_path / "caller", speak, seconds=15)
        await caller.start()
        assert await caller.wait() == 0
        heard, _ = caller.heard()
        s = running.settings
        apology = load_wav(s.personas_dir / s.call.persona / "apology.wav")
        assert apology is not None
        expected = to_rate(np.frombuffer(apology.pcm16, "<i2").astype(np.float64),
                           apology.sample_rate, RATE)
        _, score = find_sound(heard, expected)
        assert score > 0.8, f"the apology was not heard (similarity {score:.2f})"
        assert "could not say the reply" in running.log_text()
    finally:
        stop_secretary(running)
