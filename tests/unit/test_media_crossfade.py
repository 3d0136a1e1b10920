"""Crossfader: preserves length, passes continuous audio untouched, removes clicks."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from media.crossfade import Crossfader


def pcm(x):
    return np.asarray(x, dtype=np.int16).tobytes()


def samples(b):
    return np.frombuffer(b, dtype=np.int16).astype(np.int64)


def run(xf, chunks):
    out = [xf.push(c) for c in chunks]
    out.append(xf.flush())
    return b"".join(out)


def max_jump(x):
    return int(np.abs(np.diff(x)).max()) if len(x) > 1 else 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=1200).map(lambda b: b[: len(b) // 2 * 2]), max_size=20))
def test_total_length_preserved(chunks):
    xf = Crossfader(256)
    out = run(xf, chunks)
    assert len(out) == sum(len(c) for c in chunks)
    assert xf.held_samples == 0


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(32, 900), min_size=1, max_size=25),
       freq=st.floats(100, 1500), amp=st.integers(100, 30000))
def test_continuous_audio_passes_untouched(sizes, freq, amp):
    n = sum(sizes)
    x = (np.sin(2 * np.pi * freq * np.arange(n) / 8000) * amp).astype(np.int16)
    chunks, i = [], 0
    for size in sizes:
        chunks.append(x[i:i + size].tobytes())
        i += size
    xf = Crossfader(256)
    out = samples(run(xf, chunks))
    body = max(0, n - 256)  # the held tail is faded out by flush()
    assert np.array_equal(out[:body], x[:body])
    assert xf.joins_smoothed == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(512, 1200), st.floats(50, 1000), st.floats(0, 6.28),
                          st.integers(0, 30000), st.integers(-2000, 2000)),
                min_size=2, max_size=10))
def test_no_clicks_between_unrelated_chunks(specs):
    chunks, internal = [], 0
    for size, freq, phase, amp, dc in specs:
        t = np.arange(size)
        c = np.clip(np.sin(2 * np.pi * freq * t / 8000 + phase) * amp + dc, -32768, 32767)
        c = c.astype(np.int16)
        internal = max(internal, max_jump(c.astype(np.int64)))
        chunks.append(c.tobytes())
    out = samples(run(Crossfader(256), chunks))
    naive = samples(bytes(2) + b"".join(chunks))  # the stream starts from silence
    biggest_step = max_jump(naive)
    # every join is at most as steep as the audio itself, plus the slope of the ramp that
    # spreads the removed step: over 2 x 256 samples between chunks (pi/1024 of the step
    # per sample), over the first 256 when a stream starts from silence (pi/512).
    # (Chunks >= 512 samples so that the ramps of two joins never overlap and add up.)
    # (+1/8 and 2 LSB: the slack the crossfader allows a join before calling it a click)
    assert max_jump(out[:-256]) <= internal * 1.125 + 4 + biggest_step * np.pi / 512


def test_step_between_dc_levels_becomes_a_ramp():
    xf = Crossfader(256)
    out = samples(run(xf, [pcm([10000] * 600), pcm([-10000] * 600)]))
    assert max_jump(out[:-256]) <= 20000 * np.pi / 1024 + 2
    assert out[300] == 10000 and out[-300] == -10000  # after the onset ramp from silence
    assert np.all(np.diff(out[300:900]) <= 0)  # monotonic transition, no overshoot
    assert xf.joins_smoothed == 2  # the onset from silence and the step


def test_naive_join_would_click():
    """The click the crossfader removes is really there in plain concatenation."""
    naive = samples(pcm([10000] * 600) + pcm([-10000] * 600))
    assert max_jump(naive) == 20000


def test_start_from_silence_is_smoothed():
    out = samples(run(Crossfader(256), [pcm([20000] * 1000)]))
    assert out[0] == 0 or abs(out[0]) < 300
    assert max_jump(out[:-256]) <= 20000 * np.pi / 512 + 2


def test_short_chunks():
    xf = Crossfader(256)
    chunks = [pcm(np.full(n, v)) for n, v in ((10, 5000), (100, -5000), (1, 0), (300, 8000))]
    out = run(xf, chunks)
    assert len(out) == sum(len(c) for c in chunks)
    xf2 = Crossfader(256)
    assert xf2.push(pcm([1] * 100)) == b""  # shorter than the hold-back: all held
    assert xf2.held_samples == 100


def test_flush_fades_out_to_zero():
    xf = Crossfader(256)
    xf.push(pcm([12000] * 1000))
    tail = samples(xf.flush())
    assert len(tail) == 256
    assert abs(tail[0] - 12000) < 50
    assert tail[-1] == 0
    assert np.all(np.diff(tail) <= 0)
    assert xf.flush() == b""


def test_reset_drops_held_audio():
    xf = Crossfader(256)
    xf.push(pcm([3000] * 1000))
    xf.reset()
    assert xf.held_samples == 0
    assert xf.flush() == b""


def test_zero_samples_is_passthrough():
    xf = Crossfader(0)
    data = pcm([1, -30000, 30000, 5])
    assert xf.push(data) == data
    assert xf.flush() == b""


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(32, 600), st.integers(0, 400)), min_size=1,
                    max_size=30),
       freq=st.floats(100, 1500))
def test_take_keeps_continuous_audio_untouched(ops, freq):
    """Playout borrows from the hold-back when a live producer is just in time."""
    n = sum(size for size, _ in ops)
    x = (np.sin(2 * np.pi * freq * np.arange(n) / 8000) * 9000).astype(np.int16)
    xf = Crossfader(256)
    out, i = [], 0
    for size, take in ops:
        out.append(xf.push(x[i:i + size].tobytes()))
        out.append(xf.take(take))
        i += size
    out.append(xf.flush())
    y = samples(b"".join(out))
    assert len(y) == n
    body = max(0, n - 256)  # the last 256 were faded out by flush()
    assert np.array_equal(y[:body], x[:body])
    assert xf.joins_smoothed == 0


def test_take_then_step_is_still_smoothed():
    xf = Crossfader(256)
    out = xf.push(pcm([8000] * 300)) + xf.take(256)  # everything released, nothing held
    out += xf.push(pcm([-8000] * 600)) + xf.flush()
    y = samples(out)
    assert len(y) == 900
    assert max_jump(y[300:-256]) <= 16000 * np.pi / 512 + 2  # all on the new chunk's head
    assert xf.joins_smoothed == 2  # onset from silence, then the step
