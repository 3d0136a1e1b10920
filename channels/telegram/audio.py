"""Telegram voice notes and our PCM: OGG/Opus in, 16 kHz mono PCM out for STT; PCM in,
OGG/Opus out for `sendVoice`.

soundfile's bundled libsndfile (1.1+) reads and writes Ogg/Opus, so no ffmpeg is needed.
Both directions are CPU work on whole files: call them in a thread.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile

from media.resample import resample_all

STT_RATE = 16000
# Opus encodes only these rates; anything else is resampled to the nearest one above.
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


class AudioDecodeError(ValueError):
    """The bytes are not audio soundfile can read."""


def decode_voice(data: bytes, rate: int = STT_RATE) -> bytes:
    """OGG/Opus (or any format libsndfile reads) as mono 16-bit PCM at `rate`."""
    try:
        samples, source_rate = soundfile.read(io.BytesIO(data), dtype="int16",
                                              always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioDecodeError(f"cannot read this audio: {exc}") from exc
    mono = samples.mean(axis=1).astype("<i2") if samples.shape[1] > 1 else samples[:, 0]
    return resample_all(mono.astype("<i2").tobytes(), int(source_rate), rate)


def encode_voice(pcm16: bytes, rate: int) -> bytes:
    """Mono 16-bit PCM as an OGG/Opus voice note."""
    target = next((r for r in OPUS_RATES if r >= rate), OPUS_RATES[-1])
    pcm = resample_all(pcm16, rate, target)
    samples = np.frombuffer(pcm, dtype="<i2")
    out = io.BytesIO()
    soundfile.write(out, samples, target, format="OGG", subtype="OPUS")
    return out.getvalue()
