"""WAV in and out of the console: reading an uploaded file into 16-bit mono PCM (checking it
really is a PCM WAV, whatever its name or content type says) and writing PCM back as a WAV
file for the browser or an API client."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np


class WavError(ValueError):
    """The bytes are not a WAV file we can use; the message says why, for the user."""


@dataclass(frozen=True)
class Pcm:
    """16-bit signed mono samples (little-endian bytes) at `sample_rate`."""

    pcm16: bytes
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm16) / 2 / self.sample_rate

    @property
    def rms(self) -> float:
        samples = np.frombuffer(self.pcm16, dtype="<i2").astype(np.float32)
        return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def _to_int16(raw: bytes, width: int) -> np.ndarray:
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8
    if width == 2:
        return np.frombuffer(raw, dtype="<i2")
    if width == 3:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return triples[:, 2].astype(np.int8).astype(np.int16) << 8 | triples[:, 1]
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    raise WavError(f"{8 * width}-bit samples are not supported")


def read_wav(data: bytes) -> Pcm:
    """Parse a PCM WAV (8/16/24/32-bit, any channel count) into 16-bit mono. Raises WavError
    for anything else (another format under a .wav name, a compressed WAV, a cut-off file)."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WavError(f"not a readable PCM WAV file ({exc})") from exc
    if rate <= 0 or channels <= 0:
        raise WavError("the WAV header has no sample rate or channels")
    frame = width * channels
    raw = raw[: len(raw) // frame * frame]  # trust the data over a header that may lie
    samples = _to_int16(raw, width).reshape(-1, channels)
    mono = samples[:, 0] if channels == 1 else samples.astype(np.int32).mean(axis=1)
    return Pcm(np.asarray(mono).astype("<i2").tobytes(), rate)


def wav_bytes(pcm16: bytes, sample_rate: int) -> bytes:
    """A mono 16-bit WAV file holding `pcm16` (native-endian int16, as engines give it)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.frombuffer(pcm16, dtype=np.int16).astype("<i2").tobytes())
    return out.getvalue()
