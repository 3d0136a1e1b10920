"""A real SIP call through a real Asterisk to the secretary: greeting, echo, recordings, cleanup."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np
import pytest

from ari_app.behaviours import load_wav
from tests.integration.conftest import (
    Secretary,
    start_secretary,
    stop_secretary,
    wait_for_no_leftovers,
)
from tests.signal_analysis import band_fraction, find_sound, rms, to_rate, tone
from tests.sip_caller import read_wav, write_wav

pytestmark = pytest.mark.integration

RATE = 8000


def caller_signal(path: Path, freq: float, seconds: float) -> Path:
    """Half a second of silence, then a steady tone: easy to find in any recording."""
    return write_wav(path, np.concatenate([np.zeros(RATE // 2), tone(freq, seconds - 0.5)]))


def greeting_8k(secretary: Secretary) -> np.ndarray:
    s = secretary.settings
    greeting = load_wav(s.personas_dir / s.call.persona / "greeting.wav")
    assert greeting is not None
    samples = np.frombuffer(greeting.pcm16, dtype="<i2").astype(np.float64)
    return to_rate(samples, greeting.sample_rate, RATE)


def after_greeting(heard: np.ndarray, greeting: np.ndarray) -> np.ndarray:
    """What the caller heard once the greeting was over (with margins for the echo delay)."""
    start, score = find_sound(heard, greeting)
    assert score > 0.8, f"greeting not found in what the caller heard (similarity {score:.2f})"
    begin = start + len(greeting) + RATE // 2
    return heard[begin : len(heard) - RATE // 2]


async def test_caller_hears_greeting_then_itself_and_call_is_recorded(
    secretary: Secretary, ari, tmp_path: Path
) -> None:
    speak = caller_signal(tmp_path / "speak.wav", 600, 11)
    caller = secretary.caller(tmp_path / "caller", speak, seconds=9)
    await caller.start()
    assert await caller.wait() == 0

    heard, rate = caller.heard()
    assert rate == RATE
    greeting = greeting_8k(secretary)
    echo = after_greeting(heard, greeting)
    assert len(echo) > RATE, "call too short to hear the echo"
    assert band_fraction(echo, RATE, 600) > 0.8, "the caller did not hear its own voice back"

    inputs, outputs = secretary.recordings("input"), secretary.recordings("output")
    assert len(inputs) == 1 and len(outputs) == 1
    assert inputs[0].name.replace("_input", "") == outputs[0].name.replace("_output", "")
    received, in_rate = read_wav(inputs[0])
    assert in_rate == RATE
    assert len(received) > 6 * RATE
    assert band_fraction(received, RATE, 600) > 0.8, "_input.wav lacks the caller's signal"
    sent, _ = read_wav(outputs[0])
    _, score = find_sound(sent, greeting)
    assert score > 0.95, f"_output.wav lacks the greeting (similarity {score:.2f})"

    channels, bridges = await wait_for_no_leftovers(ari)
    assert channels == [] and bridges == [], "the call left channels or bridges behind"


async def test_three_simultaneous_calls_stay_separate(
    secretary: Secretary, ari, tmp_path: Path
) -> None:
    freqs = (500.0, 900.0, 1400.0)
    callers = [
        secretary.caller(
            tmp_path / f"caller{int(f)}", caller_signal(tmp_path / f"{int(f)}.wav", f, 10),
            seconds=8, user=f"caller{int(f)}",
        )
        for f in freqs
    ]
    await asyncio.gather(*(c.start() for c in callers))
    assert await asyncio.gather(*(c.wait() for c in callers)) == [0, 0, 0]

    greeting = greeting_8k(secretary)
    for freq, caller in zip(freqs, callers, strict=True):
        echo = after_greeting(caller.heard()[0], greeting)
        assert band_fraction(echo, RATE, freq) > 0.8, f"caller {freq} Hz did not hear itself"
        for other in freqs:
            if other != freq:
                assert band_fraction(echo, RATE, other) < 0.02, f"{freq} Hz heard {other} Hz"

    inputs = secretary.recordings("input")
    assert len(inputs) == 3
    found = []
    for path in inputs:
        received, _ = read_wav(path)
        own = max(freqs, key=lambda f: band_fraction(received, RATE, f))
        assert band_fraction(received, RATE, own) > 0.8, f"{path.name} mixes callers"
        found.append(own)
    assert sorted(found) == sorted(freqs)

    channels, bridges = await wait_for_no_leftovers(ari)
    assert channels == [] and bridges == []


async def test_caller_hanging_up_during_greeting_leaves_nothing_behind(
    secretary: Secretary, ari, tmp_path: Path
) -> None:
    caller = secretary.caller(tmp_path / "c", caller_signal(tmp_path / "s.wav", 700, 3), seconds=2)
    await caller.start()
    await caller.wait()

    channels, bridges = await wait_for_no_leftovers(ari)
    assert channels == [] and bridges == []
    # Asterisk is clean first; the app logs the end once it has closed the recordings
    for _ in range(50):
        if "ended after" in secretary.log_text():
            break
        await asyncio.sleep(0.2)
    assert "ended after" in secretary.log_text()
    for path in secretary.recordings("input") + secretary.recordings("output"):
        with wave.open(str(path)) as wav:  # closed properly: a valid WAV
            assert wav.getframerate() == RATE


async def test_greeting_is_heard_clearly(secretary: Secretary, tmp_path: Path) -> None:
    """No clicks, buzz or gaps: the greeting arrives nearly sample-exact through G.711."""
    caller = secretary.caller(tmp_path / "c", write_wav(tmp_path / "quiet.wav", np.zeros(RATE * 7)),
                              seconds=6)
    await caller.start()
    await caller.wait()
    heard, _ = caller.heard()
    greeting = greeting_8k(secretary)
    start, score = find_sound(heard, greeting)
    assert score > 0.95, f"greeting distorted (similarity {score:.2f})"
    residual = heard[start : start + len(greeting)] - greeting * (
        np.dot(heard[start : start + len(greeting)], greeting) / np.dot(greeting, greeting)
    )
    assert rms(residual) < 0.15 * rms(greeting), "greeting arrived with noise or gaps"


@pytest.mark.parametrize("media_format", ["alaw", "slin"])
async def test_other_external_media_formats_carry_both_directions(
    asterisk_server, ari, tmp_path: Path, media_format: str
) -> None:
    """A-law and 8 kHz big-endian L16 (PT 10) on the externalMedia leg work like µ-law."""
    running = start_secretary(tmp_path, media_format=media_format)
    try:
        caller = running.caller(tmp_path / "c", caller_signal(tmp_path / "s.wav", 750, 9),
                                seconds=7)
        await caller.start()
        assert await caller.wait() == 0
        echo = after_greeting(caller.heard()[0], greeting_8k(running))
        assert band_fraction(echo, RATE, 750) > 0.8
        [recording] = running.recordings("input")
        assert band_fraction(read_wav(recording)[0], RATE, 750) > 0.8
        channels, bridges = await wait_for_no_leftovers(ari)
        assert channels == [] and bridges == []
    finally:
        stop_secretary(running)
