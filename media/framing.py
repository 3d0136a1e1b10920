"""20 ms framing of pcm16: frame sizes, silence, and a Framer that cuts arbitrary chunks
into whole frames while carrying the remainder."""

from __future__ import annotations

FRAME_MS = 20
SAMPLE_BYTES = 2  # pcm16 mono


def frame_samples(sample_rate: int, ms: int = FRAME_MS) -> int:
    samples, rest = divmod(sample_rate * ms, 1000)
    if rest:
        raise ValueError(f"{ms} ms at {sample_rate} Hz is not a whole number of samples")
    return samples


def frame_bytes(sample_rate: int, ms: int = FRAME_MS) -> int:
    return frame_samples(sample_rate, ms) * SAMPLE_BYTES


def silence(nbytes: int) -> bytes:
    return bytes(nbytes)


class Framer:
    """Accepts pcm16 chunks of any length, returns whole frames; keeps the remainder
    (even a torn half sample) for the next push."""

    def __init__(self, sample_rate: int = 8000, ms: int = FRAME_MS) -> None:
        self.frame_bytes = frame_bytes(sample_rate, ms)
        self._pending = bytearray()

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    def push(self, chunk: bytes) -> list[bytes]:
        buf = self._pending
        buf += chunk
        size = self.frame_bytes
        whole = len(buf) - len(buf) % size
        if not whole:
            return []
        frames = [bytes(buf[i:i + size]) for i in range(0, whole, size)]
        del buf[:whole]
        return frames

    def flush(self) -> bytes:
        """The last partial frame padded with silence to a whole frame, or b"" if none."""
        if not self._pending:
            return b""
        frame = bytes(self._pending).ljust(self.frame_bytes, b"\0")
        self._pending.clear()
        return frame

    def reset(self) -> None:
        self._pending.clear()
