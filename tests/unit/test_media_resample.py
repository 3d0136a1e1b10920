"""Streaming resampling keeps its state across chunks: chunked == whole, no edge clicks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.resample import Resampler, SoxrStreamResampler, resample_all


def sine(rate, seconds=1.0, freq=440.0, amp=12000):
    t = np.arange(int(rate * seconds))
    return (np.sin(2 * np.pi * freq * t / rate) * amp).astype(np.int16).tobytes()


def run_chunked(resampler, data, sizes):
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(resampler.process(data[i:i + n]))
        i += n
        k += 1
    out.append(resampler.flush())
    return np.frombuffer(b"".join(out), dtype=np.int16)


RATES = [(8000, 16000), (16000, 8000), (22050, 8000), (24000, 8000), (8000, 48000)]


@pytest.mark.parametrize(("rin", "rout"), RATES)
@settings(max_examples=15, deadline=None)
@given(sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=20))
def test_chunked_equals_whole(rin, rout, sizes):
    data = sine(rin, 0.5)
    whole = np.frombuffer(resample_all(data, rin, rout), dtype=np.int16)
    chunked = run_chunked(SoxrStreamResampler(rin, rout), data, sizes)
    assert abs(len(chunked) - len(whole)) <= 1
    n = min(len(chunked), len(whole))
    assert np.abs(chunked[:n].astype(int) - whole[:n]).max() <= 4


@pytest.mark.parametrize(("rin", "rout"), RATES)
def test_no_discontinuity_at_20ms_chunk_edges(rin, rout):
    data = sine(rin, 1.0, freq=300.0)
    out = run_chunked(SoxrStreamResampler(rin, rout), data, [rin // 50 * 2])
    steady = out[rout // 20: -rout // 20].astype(int)  # skip filter run-in and run-out
    # a 300 Hz sine of amplitude 12000 never steps more than 2*pi*300/rate*12000 per sample
    limit = 2 * np.pi * 300 / rout * 12000 * 1.05 + 2
    assert np.abs(np.diff(steady)).max() <= limit


def test_naive_per_chunk_resampling_would_click():
    """Guards the test above: restarting the filter per chunk must fail the same check."""
    rin, rout = 16000, 8000
    data = sine(rin, 1.0, freq=300.0)
    chunk = rin // 50 * 2
    out = np.frombuffer(b"".join(resample_all(data[i:i + chunk], rin, rout)
                                 for i in range(0, len(data), chunk)), dtype=np.int16)
    steady = out[rout // 20: -rout // 20].astype(int)
    assert np.abs(np.diff(steady)).max() > 2 * np.pi * 300 / rout * 12000 * 1.05 + 2


def test_equal_rates_pass_through():
    r = SoxrStreamResampler(8000, 8000)
    assert isinstance(r, Resampler)
    assert r.process(b"\x01\x02\x03") == b"\x01\x02"
    assert r.process(b"\x04") == b"\x03\x04"
    assert r.flush() == b""
    assert resample_all(b"abcd", 8000, 8000) == b"abcd"


def test_torn_sample_is_carried():
    data = sine(16000, 0.1)
    a = SoxrStreamResampler(16000, 8000)
    b = SoxrStreamResampler(16000, 8000)
    odd = a.process(data[:301]) + a.process(data[301:]) + a.flush()
    even = b.process(data) + b.flush()
    assert len(odd) == len(even)
    diff = np.frombuffer(odd, np.int16).astype(int) - np.frombuffer(even, np.int16)
    assert np.abs(diff).max() <= 2  # chunking changes rounding only, never alignment


def test_flush_returns_the_tail_and_restarts():
    r = SoxrStreamResampler(8000, 16000)
    data = sine(8000, 0.2)
    first = r.process(data) + r.flush()
    assert len(first) // 2 == pytest.approx(3200, abs=2)
    second = r.process(data) + r.flush()
    assert len(second) == len(first)  # a fresh stream after flush, same alignment
    diff = np.frombuffer(second, np.int16).astype(int) - np.frombuffer(first, np.int16)
    assert np.abs(diff).max() <= 4


def test_reset_drops_state():
    r = SoxrStreamResampler(16000, 8000)
    r.process(sine(16000, 0.05))
    r.reset()
    assert r.flush() == b""


def test_rejects_bad_rates():
    with pytest.raises(ValueError):
        SoxrStreamResampler(0, 8000)
