"""The test caller's ears: sound, replies, latency and barge-in found in recordings, on
synthetic signals (tones, line noise, G.711) and on real synthesised speech; and reading a
WAV file while another writer is still appending to it."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from media.codecs import ALawCodec, ULawCodec
from secretary.caller import analysis
from secretary.caller.analysis import Segment
from secretary.caller.baresip import GrowingWav
from voices.base import collect_audio
from voices.chain import TtsSettings as VoicesTtsSettings
from voices.chain import VoiceSynthesizer, create_engines
from voices.profile import VoiceProfile

RATE = 8000
FRAME = analysis.DEFAULT_DETECTOR.frame_ms / 1000


def tone(seconds: float, freq: float = 440.0, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * freq * t)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE))


def timeline(*parts: tuple[float, float], total: float) -> np.ndarray:
    """Tone bursts (start_s, end_s) on silence, `total` seconds long."""
    x = silence(total)
    for start, end in parts:
        a, b = round(start * RATE), round(end * RATE)
        x[a:b] = tone((b - a) / RATE + 1 / RATE)[: b - a]
    return x


def through(codec: ULawCodec | ALawCodec, x: np.ndarray) -> np.ndarray:
    pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
    return np.frombuffer(codec.decode(codec.encode(pcm)), "<i2").astype(np.float64)


def line_noise(seconds: float, level: float, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, level, int(seconds * RATE))


def close_to(found: list[Segment], expected: list[tuple[float, float]],
             tolerance: float = 2 * FRAME) -> bool:
    return len(found) == len(expected) and all(
        abs(s.start_s - a) <= tolerance and abs(s.end_s - b) <= tolerance
        for s, (a, b) in zip(found, expected, strict=True))


def test_tone_bursts_on_silence_are_found_where_they_are() -> None:
    x = timeline((0.5, 1.0), (1.8, 2.3), total=3.0)
    found = analysis.sound_segments(x, RATE)
    assert close_to(found, [(0.5, 1.0), (1.8, 2.3)]), found


def test_short_pauses_are_bridged_and_clicks_ignored() -> None:
    x = timeline((0.5, 0.8), (0.95, 1.2), (2.0, 2.02), total=3.0)
    found = analysis.sound_segments(x, RATE)
    assert close_to(found, [(0.5, 1.2)]), found


def test_silence_has_no_sound() -> None:
    assert analysis.sound_segments(silence(2.0), RATE) == []
    assert analysis.sound_segments(np.zeros(0), RATE) == []


@pytest.mark.parametrize("level", [30.0, 150.0, 400.0])
def test_line_noise_is_not_sound_but_speech_over_it_is(level: float) -> None:
    """A hissing line raises the threshold with it: noise alone never reads as a reply, and
    bursts well above it are still found in place."""
    noise = line_noise(4.0, level)
    assert analysis.sound_segments(noise, RATE) == []
    x = noise + timeline((1.0, 1.6), (2.5, 3.0), total=4.0)
    assert close_to(analysis.sound_segments(x, RATE), [(1.0, 1.6), (2.5, 3.0)])


def test_fixed_floor_alone_would_read_a_noisy_line_as_sound() -> None:
    """Why the threshold follows the noise: with the noise factor off, the same hiss is
    one endless 'reply'."""
    noise = line_noise(3.0, 150.0)
    no_tracking = analysis.Detector(noise_factor=0.0)
    assert len(analysis.sound_segments(noise, RATE, no_tracking)) >= 1


@pytest.mark.parametrize("codec", [ULawCodec(), ALawCodec()], ids=["ulaw", "alaw"])
def test_g711_keeps_the_segments(codec: ULawCodec | ALawCodec) -> None:
    x = timeline((0.4, 1.1), (2.0, 2.6), total=3.0)
    # the idle line: a tiny dither that G.711 turns into its smallest steps
    idle = np.random.default_rng(1).integers(-3, 4, len(x)).astype(np.float64)
    heard = through(codec, x + idle)
    assert close_to(analysis.sound_segments(heard, RATE), [(0.4, 1.1), (2.0, 2.6)])


def test_reply_onset_skips_sound_already_going_on() -> None:
    heard = timeline((1.0, 3.0), (4.0, 5.0), total=6.0)
    assert analysis.reply_onset(heard, RATE, 0.5) == pytest.approx(1.0, abs=2 * FRAME)
    assert analysis.reply_onset(heard, RATE, 2.0) == pytest.approx(4.0, abs=2 * FRAME)
    assert analysis.reply_onset(heard, RATE, 5.2) is None


def test_reply_end_waits_for_enough_quiet() -> None:
    heard = timeline((1.0, 2.0), (2.5, 3.0), (5.0, 5.5), total=6.0)
    # the 0.5 s pause is inside the reply; the 2 s one ends it
    assert analysis.reply_end(heard, RATE, 1.0, quiet_s=1.0) == pytest.approx(
        3.0, abs=2 * FRAME)
    # recording stops 0.5 s after the last sound: not yet known to be over
    assert analysis.reply_end(heard, RATE, 5.0, quiet_s=1.0) is None
    assert analysis.reply_end(heard[: int(3.5 * RATE)], RATE, 1.0, quiet_s=1.0) is None


def test_reply_latency_from_the_end_of_speech() -> None:
    heard = timeline((0.0, 0.6), (2.3, 3.0), total=4.0)  # a greeting, then the reply
    assert analysis.reply_latency(1.5, heard, RATE) == pytest.approx(0.8, abs=2 * FRAME)
    assert analysis.reply_latency(3.5, heard, RATE) is None


def test_utterance_spans_pauses_between_sentences_but_not_long_gaps() -> None:
    sent = timeline((1.0, 1.8), (2.3, 3.0), (5.0, 5.5), total=6.0)
    assert analysis.utterance(sent, RATE, 0.5, max_pause_s=1.0) == Segment(
        pytest.approx(1.0, abs=2 * FRAME), pytest.approx(3.0, abs=2 * FRAME))
    later = analysis.utterance(sent, RATE, 3.5, max_pause_s=1.0)
    assert later is not None and later.start_s == pytest.approx(5.0, abs=2 * FRAME)


def test_barge_in_stop_measures_how_long_the_secretary_talked_over_the_caller() -> None:
    heard = timeline((1.0, 3.25), (4.5, 5.0), total=6.0)  # stops 250 ms after the caller
    stop = analysis.barge_in_stop(heard, RATE, 3.0)
    assert stop == pytest.approx(0.25, abs=2 * FRAME)


def test_barge_in_stop_needs_something_to_interrupt() -> None:
    heard = timeline((1.0, 2.0), total=5.0)
    assert analysis.barge_in_stop(heard, RATE, 3.0) is None  # quiet before the caller
    endless = timeline((1.0, 5.0), total=5.0)
    assert analysis.barge_in_stop(endless, RATE, 3.0) is None  # never stopped


@pytest.fixture(scope="module")
def spoken() -> np.ndarray:
    """Piper (joe) saying a sentence with a comma, at 8 kHz."""
    import asyncio

    import soxr

    engines = create_engines(VoicesTtsSettings(engines=("piper",)))
    voice = VoiceSynthesizer(VoiceProfile("t", "en", ("piper",), preset="neutral"), engines)
    try:
        audio = asyncio.run(collect_audio(voice.stream(
            "Hello, I would like to book a table for two tomorrow evening.")))
    finally:
        engines.close()
    pcm = np.frombuffer(audio.pcm16, np.int16).astype(np.float32)
    return soxr.resample(pcm, audio.sample_rate, RATE).astype(np.float64)


def true_extent(x: np.ndarray, level: float = 300.0) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(x) > level)
    return loud[0] / RATE, (loud[-1] + 1) / RATE


@pytest.mark.parametrize("noise_level", [0.0, 100.0])
def test_real_speech_over_a_phone_line_is_one_utterance_where_it_was_said(
        spoken: np.ndarray, noise_level: float) -> None:
    lead, tail = 1.2, 2.0
    x = np.concatenate([silence(lead), spoken, silence(tail)])
    x = through(ULawCodec(), x + line_noise(len(x) / RATE, noise_level))
    start, end = true_extent(spoken)
    found = analysis.utterance(x, RATE, 0.0, max_pause_s=1.0)
    assert found is not None
    assert found.start_s == pytest.approx(lead + start, abs=0.05)
    assert found.end_s == pytest.approx(lead + end, abs=0.12)
    # and as a reply: its onset after the caller's end of speech at 0.7 s
    assert analysis.reply_latency(0.7, x, RATE) == pytest.approx(lead + start - 0.7, abs=0.05)
    assert analysis.reply_end(x, RATE, found.start_s, quiet_s=1.0) == pytest.approx(
        found.end_s, abs=1e-9)


def test_real_speech_talked_over_stops_where_it_was_cut(spoken: np.ndarray) -> None:
    cut = int(1.5 * RATE)
    heard = through(ULawCodec(), np.concatenate([silence(1.0), spoken[:cut], silence(2.0)]))
    stop = analysis.barge_in_stop(heard, RATE, 2.0)  # the caller cut in 1 s into the reply
    assert stop is not None
    # the cut is at 2.5 s, or earlier if the speech happened to pause just before it
    assert 0.0 <= stop <= 0.5 + FRAME


def wav_header(rate: int, data_size: int) -> bytes:
    """A canonical 44-byte header, with a provisional data size as a live writer leaves it."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_size))


def test_growing_wav_reads_what_was_appended_so_far(tmp_path: Path) -> None:
    path = tmp_path / "dump-dec.wav"
    samples = (np.arange(1000) - 500).astype("<i2")
    payload = samples.tobytes()
    reader = GrowingWav(path)
    assert reader.read_new() == 0  # not created yet
    with path.open("wb") as f:
        f.write(wav_header(RATE, 0)[:20])  # header half written
        f.flush()
        assert reader.read_new() == 0
        f.write(wav_header(RATE, 0)[20:])
        f.write(payload[:301])  # 150 samples and half of one
        f.flush()
        assert reader.read_new() == 150
        f.write(payload[301:1200])
        f.flush()
        assert reader.read_new() == 450
        f.write(payload[1200:])
        f.flush()
        assert reader.read_new() == 400
        assert reader.read_new() == 0
    assert reader.rate == RATE
    np.testing.assert_array_equal(reader.samples, samples.astype(np.float64))
