"""Playout: one frame per call, silence when idle, seamless for live producers, clear()."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from media.playout import Playout


def tone(n, freq=300.0, amp=8000, start=0):
    t = np.arange(start, start + n)
    return (np.sin(2 * np.pi * freq * t / 8000) * amp).astype(np.int16)


def drain(p, limit=10_000):
    frames = []
    while not p.is_idle and len(frames) < limit:
        frames.append(p.next_frame())
    return frames


def test_silence_when_empty():
    p = Playout(8000)
    assert p.is_idle
    for _ in range(3):
        assert p.next_frame() == bytes(320)
    assert p.silence_frames == 3
    assert p.audio_frames == 0


def test_whole_chunk_comes_out_in_order():
    p = Playout(8000)
    x = tone(8000)  # 1 s
    p.enqueue(x.tobytes())
    assert p.pending_ms == 1000
    frames = drain(p)
    assert all(len(f) == 320 for f in frames)
    assert len(frames) == 50
    out = np.frombuffer(b"".join(frames), dtype=np.int16)
    assert np.array_equal(out[:8000 - 256], x[:8000 - 256])  # tail is faded by the crossfader
    assert p.audio_frames == 50
    assert p.played_samples == 8000
    assert p.next_frame() == bytes(320)


def test_partial_tail_is_padded_once_the_producer_is_quiet():
    p = Playout(8000)
    p.enqueue(tone(100).tobytes())
    assert p.next_frame() == bytes(320)  # producer may still be adding: wait, don't pad yet
    frame = p.next_frame()  # nothing came meanwhile: end of stream, pad it
    assert len(frame) == 320
    assert any(frame[:200]) and frame[200:] == bytes(120)
    assert p.padded_frames == 1
    assert p.is_idle


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 500), min_size=1, max_size=60))
def test_always_exactly_one_frame(sizes):
    p = Playout(8000)
    start = 0
    for n in sizes:
        p.enqueue(tone(n, start=start).tobytes())
        start += n
        assert len(p.next_frame()) == 320
    assert all(len(f) == 320 for f in drain(p))
    assert p.played_samples == sum(sizes)  # nothing lost, nothing invented


def test_live_producer_is_continuous():
    """Echo-style: one 20 ms frame enqueued per tick comes out unchanged, only delayed."""
    p = Playout(8000)
    x = tone(160 * 100)
    out = []
    for i in range(100):
        p.enqueue(x[i * 160:(i + 1) * 160].tobytes())
        out.append(p.next_frame())
    y = np.frombuffer(b"".join(out), dtype=np.int16)
    start = int(np.flatnonzero(y)[0])
    delay = start - 1  # the tone starts at 0, so its first non-zero sample is x[1]
    assert delay == 0  # the frame borrows from the crossfader's hold-back: no added latency
    assert np.array_equal(y, x)
    assert p.padded_frames == 0


def test_bursty_producer_with_prebuffer_is_seamless():
    """A soxr stream fed 20 ms at a time answers ~830 samples every ~5 ticks."""
    p = Playout(8000, prebuffer_ms=200)
    x = tone(830 * 60, freq=250.0)
    out = []
    for tick in range(330):
        if tick % 5 == 4 and tick // 5 < 60:
            k = tick // 5
            p.enqueue(x[k * 830:(k + 1) * 830].tobytes())
        out.append(p.next_frame())
    y = np.frombuffer(b"".join(out), dtype=np.int16)
    start = int(np.flatnonzero(y)[0]) - 1
    n = 830 * 60 - 256  # all but the faded tail
    assert np.array_equal(y[start:start + n], x[:n])
    assert p.padded_frames == 1  # only the very end


def test_clear_drops_everything_at_once():
    p = Playout(8000)
    p.enqueue(tone(16000).tobytes())
    p.next_frame()
    dropped = p.clear()
    assert dropped == 16000 - 160
    assert p.is_idle and p.pending_ms == 0
    assert p.next_frame() == bytes(320)
    assert p.cleared_samples == dropped


def test_prebuffer_waits_for_enough_audio():
    p = Playout(8000, prebuffer_ms=100)
    first = []
    for i in range(3):
        p.enqueue(tone(320, start=i * 320).tobytes())  # 40 ms per tick
        first.append(p.next_frame())
    assert first[:2] == [bytes(320)] * 2  # 40, then 80 ms queued (minus the hold-back)
    for i in range(3, 6):
        p.enqueue(tone(320, start=i * 320).tobytes())
        first.append(p.next_frame())
    assert any(f != bytes(320) for f in first)


def test_finish_releases_tail_without_waiting():
    p = Playout(8000)
    p.enqueue(tone(400).tobytes())
    p.finish()
    frames = [p.next_frame() for _ in range(3)]  # 2.5 frames, the last one padded
    assert all(any(f) for f in frames)
    assert p.is_idle
    p.enqueue(tone(100).tobytes())
    p.finish()
    assert any(p.next_frame())  # no waiting tick for a finished short stream
    assert p.is_idle
