"""Outgoing audio queue of one call: chunks in (crossfaded), exactly one 20 ms frame out
per clock tick, silence when there is nothing to say, instant clear for barge-in."""

from __future__ import annotations

from media.crossfade import Crossfader
from media.framing import SAMPLE_BYTES, frame_bytes, silence


class Playout:
    """Frames for the pacer.

    The crossfader holds back the last 256 samples of what was enqueued so the next chunk
    can be blended in. When the queue runs short of a frame:
      * if queued plus held audio still makes a frame, the frame borrows from the held
        tail unchanged (a live producer such as echo or a bursty resampler: no fade, no
        added latency);
      * else, if the producer enqueued nothing since the previous frame, the stream has
        ended or stalled: the held tail is released faded out and the last partial frame
        is padded with silence;
      * else the producer is live but behind: silence now, its audio continues seamlessly.
    `finish()` tells it the stream ended, so a short last piece goes out at once.

    `prebuffer_ms` (default 0) makes playout wait, after being idle or running dry,
    until that much audio is queued (or the producer goes quiet); it absorbs bursty
    producers such as a soxr stream fed 20 ms at a time.
    """

    def __init__(self, sample_rate: int = 8000, *, crossfade_samples: int = 256,
                 prebuffer_ms: int = 0) -> None:
        self.sample_rate = sample_rate
        self.frame_bytes = frame_bytes(sample_rate)
        self.silence_frame = silence(self.frame_bytes)
        self._prebuffer = max(self.frame_bytes, sample_rate * prebuffer_ms // 1000 * SAMPLE_BYTES)
        self._queue = bytearray()
        self._xfade = Crossfader(crossfade_samples)
        self._fed = False  # enqueue() called since the last next_frame()
        self._playing = False
        self.audio_frames = 0  # frames carrying queued audio (incl. padded last frames)
        self.silence_frames = 0
        self.padded_frames = 0
        self.played_samples = 0  # audio samples sent, padding excluded
        self.cleared_samples = 0

    def enqueue(self, pcm16: bytes) -> None:
        if not pcm16:
            return
        self._fed = True
        out = self._xfade.push(pcm16)
        if out:
            self._queue += out

    def finish(self) -> None:
        """The current stream is complete: release the crossfader's held tail now."""
        tail = self._xfade.flush()
        if tail:
            self._queue += tail
        self._fed = False  # nothing more is coming: a partial last frame may go out padded

    def clear(self) -> int:
        """Drop all queued and held audio immediately; returns the samples dropped."""
        dropped = (len(self._queue) // SAMPLE_BYTES) + self._xfade.held_samples
        self._queue.clear()
        self._xfade.reset()
        self._playing = False
        self._fed = False
        self.cleared_samples += dropped
        return dropped

    @property
    def queued_samples(self) -> int:
        return len(self._queue) // SAMPLE_BYTES + self._xfade.held_samples

    @property
    def pending_ms(self) -> float:
        return self.queued_samples * 1000 / self.sample_rate

    @property
    def is_idle(self) -> bool:
        return not self._queue and not self._xfade.held_samples

    def next_frame(self) -> bytes:
        """Exactly one frame of pcm16 (`frame_bytes` long)."""
        fed = self._fed
        self._fed = False
        queue = self._queue
        size = self.frame_bytes
        xfade = self._xfade
        total = len(queue) + xfade.held_samples * SAMPLE_BYTES
        if not self._playing:
            if total >= self._prebuffer or (total and not fed):
                self._playing = True
            else:
                self.silence_frames += 1
                return self.silence_frame
        short = size - len(queue)
        if short > 0:
            if total >= size:
                queue += xfade.take(short // SAMPLE_BYTES)
            elif not fed:
                queue += xfade.flush()  # nothing will join the tail: fade it out
        avail = len(queue)
        if avail >= size:
            frame = bytes(queue[:size])
            del queue[:size]  # bytearray drops its head in O(1)
            self.audio_frames += 1
            self.played_samples += size // SAMPLE_BYTES
            return frame
        self._playing = False  # ran dry: prebuffer again before resuming
        if avail and not fed:
            frame = bytes(queue).ljust(size, b"\0")
            queue.clear()
            self.audio_frames += 1
            self.padded_frames += 1
            self.played_samples += avail // SAMPLE_BYTES
            return frame
        self.silence_frames += 1
        return self.silence_frame
