"""Sample-rate conversion of pcm16: a streaming resampler that carries filter state from
chunk to chunk (no clicks or buzz at chunk edges) and a one-shot helper for whole buffers.

Note on latency: soxr's HQ/MQ/LQ filters work in blocks, so fed 20 ms chunks a stream
answers in bursts of roughly 100 ms (some calls return nothing). That suits TTS output
(large chunks) and STT input; callers pacing 20 ms frames must buffer (see Playout)."""

from __future__ import annotations

import numpy as np
import soxr

_PCM = np.dtype(np.int16)  # native byte order, which is little-endian on every target


class Resampler:
    """Streaming pcm16 converter from `in_rate` to `out_rate`."""

    in_rate: int
    out_rate: int

    def process(self, pcm16: bytes) -> bytes:
        raise NotImplementedError

    def flush(self) -> bytes:
        """Emit what the filter still holds and start over for a new stream."""
        raise NotImplementedError

    def reset(self) -> None:
        """Drop held state without emitting it (e.g. on barge-in)."""
        raise NotImplementedError


class SoxrStreamResampler(Resampler):
    """python-soxr `ResampleStream` on int16; identity when the rates are equal."""

    def __init__(self, in_rate: int, out_rate: int, quality: str = "HQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._stream = (None if in_rate == out_rate
                        else soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16",
                                                 quality=quality))
        self._odd = b""  # a torn trailing byte waiting for its other half

    def process(self, pcm16: bytes) -> bytes:
        if self._odd:
            pcm16 = self._odd + pcm16
            self._odd = b""
        if len(pcm16) % 2:
            self._odd = pcm16[-1:]
            pcm16 = pcm16[:-1]
        if self._stream is None or not pcm16:
            return bytes(pcm16)
        # a (frames, 1) column skips the wrapper's reshaping both ways: ~15% cheaper
        return self._stream.resample_chunk(
            np.frombuffer(pcm16, dtype=_PCM).reshape(-1, 1)).tobytes()

    def flush(self) -> bytes:
        self._odd = b""
        if self._stream is None:
            return b""
        out = self._stream.resample_chunk(np.zeros((0, 1), dtype=_PCM), last=True).tobytes()
        self._stream.clear()
        return out

    def reset(self) -> None:
        self._odd = b""
        if self._stream is not None:
            self._stream.clear()

    @property
    def delay_samples(self) -> float:
        """Output samples the filter currently holds back."""
        return 0.0 if self._stream is None else self._stream.delay()


def resample_all(pcm16: bytes, in_rate: int, out_rate: int, quality: str = "HQ") -> bytes:
    """Resample a complete buffer in one go."""
    if in_rate == out_rate:
        return bytes(pcm16)
    samples = np.frombuffer(pcm16, dtype=_PCM, count=len(pcm16) // 2)
    if not samples.size:
        return b""
    return soxr.resample(samples, in_rate, out_rate, quality=quality).tobytes()
