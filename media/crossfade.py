"""Click-free joins between consecutive pcm16 chunks of one output stream.

Chunks from TTS or a resampler either continue each other exactly (streaming synthesis,
echo) or meet with a jump (separately synthesised sentences, a restart after underrun).
An overlap-add crossfade would shorten every join and smear audio that was already
continuous, so this one preserves length: it keeps the last `samples` of each chunk
back, and when the next chunk arrives it measures the step across the join. Only the
part of that step larger than the biggest sample-to-sample step the audio on either
side makes by itself (plus 1/8 and 2 LSB of slack) is a click; that excess is removed
with two raised-cosine ramps, half blended into the held tail and half into the head of
the new chunk. Continuous audio passes through unchanged; a step becomes a smooth
transition spread over 2 x `samples`. `flush` fades the held tail out (end of stream,
underrun)."""

from __future__ import annotations

import struct

import numpy as np

_PCM = np.dtype(np.int16)
_ONE = struct.Struct("=h")  # pcm16 is native byte order, like numpy's int16
_TWO = struct.Struct("=hh")


def _rise(n: int) -> np.ndarray:
    """Raised cosine from ~0 up to exactly 1 at the last sample."""
    return 0.5 - 0.5 * np.cos(np.pi * np.arange(1, n + 1) / n)


def _fall(n: int) -> np.ndarray:
    """Raised cosine from exactly 1 at the first sample down towards 0."""
    return 0.5 + 0.5 * np.cos(np.pi * np.arange(n) / n)


def _max_step(x: np.ndarray) -> int:
    if x.size < 2:
        return 0
    return int(np.abs(np.diff(x.astype(np.int32))).max())


class Crossfader:
    """Joins chunks of one stream; holds back the last `samples` samples of audio.

    Audio stays in `bytes` on the common path (a join that needs no smoothing costs a
    few struct reads); numpy is used only to smooth a join or fade out.
    """

    def __init__(self, samples: int = 256) -> None:
        if samples < 0:
            raise ValueError("samples must be >= 0")
        self.samples = samples
        self._nbytes = samples * 2
        self._held = b""
        # the last samples already released (can't change any more, but they tell how
        # steep the audio before a join is); empty = the stream starts from silence
        self._ctx = b""
        self._rises: dict[int, np.ndarray] = {}
        self._falls: dict[int, np.ndarray] = {}
        self.joins_smoothed = 0

    @property
    def held_samples(self) -> int:
        return len(self._held) >> 1

    def push(self, chunk: bytes) -> bytes:
        """Add a chunk; returns the audio that is final and safe to play now."""
        chunk = bytes(chunk)
        if len(chunk) & 1:
            chunk = chunk[:-1]  # a torn sample can't be placed; pcm16 chunks are whole
        if not chunk:
            return b""
        if not self._nbytes:
            return chunk
        joined = self._join(self._held, chunk)
        cut = len(joined) - self._nbytes
        if cut <= 0:
            self._held = joined
            return b""
        out = joined[:cut]
        self._held = joined[cut:]
        self._released(out)
        return out

    def take(self, samples: int) -> bytes:
        """Release up to `samples` from the head of the held tail as they are: the stream
        is live but playout has caught up with it. Later joins adjust only what stays."""
        held = self._held
        if samples <= 0 or not held:
            return b""
        out = held[:samples * 2]
        self._held = held[samples * 2:]
        self._released(out)
        return out

    def flush(self) -> bytes:
        """Release the held tail faded out to silence; the next chunk starts from silence."""
        held = self._held
        self._held = self._ctx = b""
        if not held:
            return b""
        x = np.frombuffer(held, dtype=_PCM)
        gain = 0.5 + 0.5 * np.cos(np.pi * np.arange(1, x.size + 1) / x.size)
        return np.rint(x * gain).astype(_PCM).tobytes()

    def reset(self) -> None:
        """Drop held audio at once (barge-in)."""
        self._held = self._ctx = b""

    def _released(self, out: bytes) -> None:
        nbytes = self._nbytes
        self._ctx = out[-nbytes:] if len(out) >= nbytes else (self._ctx + out)[-nbytes:]

    def _join(self, a: bytes, b: bytes) -> bytes:
        last = a[-4:] if len(a) >= 4 else (self._ctx + a)[-4:]
        if len(last) == 4:
            before, left = _TWO.unpack(last)
        elif last:
            before = left = _ONE.unpack(last)[0]
        else:
            before = left = 0  # silence before the stream
        first = _ONE.unpack_from(b)[0]
        step = first - left
        # cheap exit for the common case: the join looks like the steps next to it
        near = abs(left - before)
        if len(b) >= 4:
            near = max(near, abs(_ONE.unpack_from(b, 2)[0] - first))
        if abs(step) <= near:
            return a + b
        return self._smooth(a, b, step)

    def _smooth(self, a_bytes: bytes, b_bytes: bytes, step: int) -> bytes:
        a = np.frombuffer(a_bytes, dtype=_PCM)
        b = np.frombuffer(b_bytes, dtype=_PCM)
        n = self.samples
        na, nb = min(a.size, n), min(b.size, n)
        if a.size >= n:
            before_join = a[-n:]
        else:
            before_join = np.concatenate((np.frombuffer(self._ctx, dtype=_PCM), a))[-n:]
        allowed = max(_max_step(before_join), _max_step(b[:nb]))
        allowed += (allowed >> 3) + 2  # slack for rounding and the audio's own variation
        excess = step - max(-allowed, min(allowed, step))
        if not excess:
            return a_bytes + b_bytes
        self.joins_smoothed += 1
        # held audio can still move, so it takes half the correction; else all on b
        share_a = excess / 2 if na else 0.0
        share_b = excess - share_a
        out = np.concatenate((a, b)).astype(np.float64)
        if na:
            out[a.size - na:a.size] += share_a * self._ramp(self._rises, _rise, na)
        out[a.size:a.size + nb] -= share_b * self._ramp(self._falls, _fall, nb)
        return np.clip(np.rint(out), -32768, 32767).astype(_PCM).tobytes()

    @staticmethod
    def _ramp(cache: dict[int, np.ndarray], make, n: int) -> np.ndarray:
        ramp = cache.get(n)
        if ramp is None:
            if len(cache) > 64:  # odd chunk sizes: keep the cache small
                cache.clear()
            ramp = cache[n] = make(n)
        return ramp
