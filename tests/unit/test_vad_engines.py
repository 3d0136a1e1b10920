"""VAD engines on real synthesised speech through a phone line (8 kHz µ-law): both find
speech boundaries within 100 ms of the truth; factory and frame-size errors are clear."""

import io
import shutil
import subprocess
import wave

import numpy as np
import pytest

from media.codecs import ULawCodec
from media.resample import resample_all
from media.vad import Vad, VadError, create_vad

RATE = 8000
FRAME = 320  # 20 ms at 8 kHz
ENGINES = ["webrtc", "silero"]

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng (Debian package) synthesises the speech")


def espeak(text: str, rate: int = RATE) -> np.ndarray:
    """Speech trimmed to where its 10 ms peak envelope exceeds 2% of the maximum, so the
    clip's first and last samples are the true speech boundaries."""
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", text], check=True,
                         capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        pcm, src_rate = w.readframes(w.getnframes()), w.getframerate()
    x = np.frombuffer(resample_all(pcm, src_rate, rate), np.int16)
    win = rate // 100
    env = np.abs(x[: len(x) // win * win].astype(np.int32)).reshape(-1, win).max(axis=1)
    loud = np.nonzero(env > env.max() * 0.02)[0]
    return x[loud[0] * win:(loud[-1] + 1) * win]


def phone_line(x: np.ndarray) -> bytes:
    codec = ULawCodec()
    return codec.decode(codec.encode(x.astype(np.int16).tobytes()))


@pytest.fixture(scope="module")
def clip():
    """1 s silence, ~1.9 s speech, 1 s silence, ~0.7 s speech, 1 s silence."""
    a = espeak("The quick brown fox jumps over")
    b = espeak("Hello there")
    gap = np.zeros(RATE, np.int16)
    audio = np.concatenate([gap, a, gap, b, gap])
    ms = lambda n: n * 1000 / RATE  # noqa: E731
    truth = [(1000.0, 1000 + ms(len(a))), (2000 + ms(len(a)), 2000 + ms(len(a) + len(b)))]
    return phone_line(audio), truth


def segments(flags: list[bool], frame_ms: int = 20, bridge_ms: int = 300):
    """Speech regions (start_ms, end_ms) with gaps shorter than bridge_ms joined - the
    pauses between words are not boundaries."""
    regions: list[list[float]] = []
    for i, speech in enumerate(flags):
        if not speech:
            continue
        start = i * frame_ms
        if regions and start - regions[-1][1] < bridge_ms:
            regions[-1][1] = start + frame_ms
        else:
            regions.append([start, start + frame_ms])
    return [tuple(r) for r in regions]


@pytest.mark.parametrize("name", ENGINES)
def test_boundaries_within_100ms(name, clip):
    pcm, truth = clip
    vad = create_vad(name, RATE)
    flags = [vad.is_speech(pcm[i:i + FRAME]) for i in range(0, len(pcm) - FRAME + 1, FRAME)]
    found = segments(flags)
    assert len(found) == len(truth), (found, truth)
    for (start, end), (true_start, true_end) in zip(found, truth, strict=True):
        assert abs(start - true_start) <= 100, (name, found, truth)
        assert abs(end - true_end) <= 100, (name, found, truth)


@pytest.mark.parametrize("name", ENGINES)
def test_silence_and_reset(name, clip):
    pcm, _ = clip
    vad = create_vad(name, RATE)
    for i in range(0, 40 * FRAME, FRAME):
        vad.speech_probability(pcm[RATE * 2 + i:RATE * 2 + i + FRAME])  # inside speech
    vad.reset()
    silent = bytes(FRAME)
    assert not any(vad.is_speech(silent) for _ in range(20))
    p = vad.speech_probability(silent)
    assert 0.0 <= p <= 1.0


@pytest.mark.parametrize("name", ENGINES)
def test_16k_and_clipped_audio(name):
    vad = create_vad(name, 16000)
    assert isinstance(vad, Vad) and vad.frame_samples == 320
    # a full-scale square wave: clipped, huge, must not crash
    square = np.where(np.arange(320) % 40 < 20, 32767, -32768).astype(np.int16).tobytes()
    for _ in range(10):
        assert 0.0 <= vad.speech_probability(square) <= 1.0


def test_factory_errors():
    with pytest.raises(VadError, match=r"unknown VAD engine 'nope'.*silero.*webrtc"):
        create_vad("nope", RATE)
    with pytest.raises(VadError, match=r"supports sample rates \[8000, 16000\], not 44100"):
        create_vad("silero", 44100)
    with pytest.raises(VadError, match="not 11025"):
        create_vad("webrtc", 11025)
    with pytest.raises(VadError, match="aggressiveness"):
        create_vad("webrtc", RATE, aggressiveness=7)
    with pytest.raises(VadError, match="bad options"):
        create_vad("webrtc", RATE, colour="red")


@pytest.mark.parametrize("name", ENGINES)
def test_wrong_frame_size(name):
    vad = create_vad(name, RATE)
    with pytest.raises(VadError, match="expects 20 ms frames of 320 bytes"):
        vad.is_speech(bytes(100))
