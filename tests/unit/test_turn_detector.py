"""TurnDetector: onset debounce, pauses that do not end a turn, end of turn after the
hangover - with an exact energy VAD for the logic, and with webrtcvad on real speech."""

import io
import shutil
import subprocess
import wave

import numpy as np
import pytest

from media.codecs import ULawCodec
from media.resample import resample_all
from media.turn import (
    SilenceStarted,
    SpeechResumed,
    SpeechStarted,
    TurnDetector,
    TurnEnded,
)
from media.vad import VadError, create_vad
from tests.unit.energy_vad import EnergyVad

RATE = 8000
FRAME = 320


def tone(ms: int) -> bytes:
    t = np.arange(ms * RATE // 1000)
    return (np.sin(2 * np.pi * 300 * t / RATE) * 8000).astype(np.int16).tobytes()


def quiet(ms: int) -> bytes:
    return bytes(ms * RATE // 1000 * 2)


def run(detector: TurnDetector, pcm: bytes):
    events = []
    for i in range(0, len(pcm) - FRAME + 1, FRAME):
        events += detector.push(pcm[i:i + FRAME])
    return events


def kinds(events):
    return [type(e).__name__ for e in events]


def test_click_does_not_start_speech():
    det = TurnDetector(EnergyVad(), min_speech_ms=60)
    click = quiet(1000) + tone(20) + quiet(500) + tone(40) + quiet(500)
    assert run(det, click) == []
    assert not det.in_turn


def test_onset_confirmed_after_debounce_with_its_true_time():
    det = TurnDetector(EnergyVad(), min_speech_ms=60)
    events = run(det, quiet(1000) + tone(200))
    assert kinds(events) == ["SpeechStarted"]
    assert events[0].at_ms == 1000 and events[0].detected_ms == 1060


def test_pause_shorter_than_hangover_keeps_the_turn():
    det = TurnDetector(EnergyVad(), hangover_ms=300, pause_ms=100)
    pcm = quiet(500) + tone(1000) + quiet(200) + tone(800) + quiet(600)
    events = run(det, pcm)
    assert kinds(events) == ["SpeechStarted", "SilenceStarted", "SpeechResumed",
                             "SilenceStarted", "TurnEnded"]
    first_pause, resumed, end = events[1], events[2], events[4]
    assert (first_pause.at_ms, first_pause.detected_ms) == (1500, 1600)
    assert resumed.at_ms == 1700
    assert isinstance(end, TurnEnded)
    assert (end.start_ms, end.end_ms, end.detected_ms, end.reason) == (500, 2500, 2800,
                                                                       "silence")


def test_turn_audio_matches_the_pause_audio_and_has_pre_roll():
    det = TurnDetector(EnergyVad(), hangover_ms=300, pause_ms=100, pre_roll_ms=200)
    pcm = quiet(1000) + tone(600) + quiet(500)
    events = run(det, pcm)
    pause = next(e for e in events if isinstance(e, SilenceStarted))
    end = next(e for e in events if isinstance(e, TurnEnded))
    assert end.audio == pause.audio and end.audio_start_ms == pause.start_ms == 800
    # 200 ms pre-roll + 600 ms speech + 100 ms of the pause
    assert len(end.audio) == 900 * RATE // 1000 * 2
    assert end.audio == pcm[800 * 16:1700 * 16]


def test_click_during_hangover_does_not_hold_the_turn():
    det = TurnDetector(EnergyVad(), hangover_ms=300, pause_ms=100, resume_ms=60)
    events = run(det, tone(600) + quiet(150) + tone(20) + quiet(400))
    assert kinds(events) == ["SpeechStarted", "SilenceStarted", "TurnEnded"]
    assert events[-1].end_ms == 600 and events[-1].detected_ms == 900


def test_max_turn_and_flush():
    det = TurnDetector(EnergyVad(), hangover_ms=300, max_turn_ms=1000)
    events = run(det, tone(1500))
    ended = [e for e in events if isinstance(e, TurnEnded)]
    assert ended and ended[0].reason == "max_length" and ended[0].end_ms == 1000
    det.reset()
    assert det.now_ms == 0
    events = run(det, tone(300))
    assert kinds(events) == ["SpeechStarted"]
    (flushed,) = det.flush()
    assert isinstance(flushed, TurnEnded) and flushed.reason == "flush"
    assert flushed.end_ms == 300 and det.flush() == []


def test_bad_parameters_and_frames():
    with pytest.raises(ValueError, match="pause_ms <= hangover_ms"):
        TurnDetector(EnergyVad(), hangover_ms=100, pause_ms=200)
    with pytest.raises(ValueError, match="one frame"):
        TurnDetector(EnergyVad(), min_speech_ms=10)
    det = TurnDetector(EnergyVad())
    with pytest.raises(VadError):
        det.push(bytes(100))


# -- real speech through webrtcvad -------------------------------------------------------

def espeak(text: str) -> np.ndarray:
    """Speech at 8 kHz trimmed to its energy (2% of peak), so its ends are the truth."""
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", text], check=True,
                         capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        pcm, src_rate = w.readframes(w.getnframes()), w.getframerate()
    x = np.frombuffer(resample_all(pcm, src_rate, RATE), np.int16)
    env = np.abs(x[: len(x) // 80 * 80].astype(np.int32)).reshape(-1, 80).max(axis=1)
    loud = np.nonzero(env > env.max() * 0.02)[0]
    return x[loud[0] * 80:(loud[-1] + 1) * 80]


def phone(*parts: np.ndarray) -> bytes:
    codec = ULawCodec()
    return codec.decode(codec.encode(np.concatenate(parts).astype(np.int16).tobytes()))


def gap(ms: int) -> np.ndarray:
    return np.zeros(ms * RATE // 1000, np.int16)


needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng (Debian package) synthesises speech")


@needs_espeak
@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_real_speech_turn_ends_hangover_plus_about_100ms_after_true_end(engine):
    speech = espeak("What time does your office open on Monday")
    true_start, true_end = 600, 600 + len(speech) * 1000 // RATE
    det = TurnDetector(create_vad(engine, RATE), hangover_ms=300)
    events = run(det, phone(gap(600), speech, gap(800)))
    started = [e for e in events if isinstance(e, SpeechStarted)]
    ended = [e for e in events if isinstance(e, TurnEnded)]
    assert len(started) == 1 and len(ended) == 1, kinds(events)
    assert abs(started[0].at_ms - true_start) <= 100
    delay = ended[0].detected_ms - true_end
    assert 300 <= delay <= 300 + 160, delay
    assert abs(ended[0].end_ms - true_end) <= 160


@needs_espeak
@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_real_200ms_pause_inside_a_sentence_does_not_end_the_turn(engine):
    det = TurnDetector(create_vad(engine, RATE), hangover_ms=300)
    events = run(det, phone(gap(500), espeak("Hello, this is Peter"), gap(200),
                            espeak("I would like to book a table"), gap(800)))
    assert sum(isinstance(e, TurnEnded) for e in events) == 1, kinds(events)
    assert sum(isinstance(e, SpeechStarted) for e in events) == 1
    # every pause before the end was followed by speech resuming
    pauses = sum(isinstance(e, SilenceStarted) for e in events)
    assert sum(isinstance(e, SpeechResumed) for e in events) == pauses - 1
