"""20 ms framing helpers and the Framer."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.framing import FRAME_MS, Framer, frame_bytes, frame_samples, silence


def test_frame_sizes():
    assert FRAME_MS == 20
    assert frame_bytes(8000) == 320
    assert frame_samples(8000) == 160
    assert frame_bytes(16000) == 640
    assert frame_bytes(8000, ms=10) == 160
    with pytest.raises(ValueError):
        frame_bytes(22050, ms=1)  # 22.05 samples


def test_silence():
    assert silence(6) == b"\0" * 6


@given(st.lists(st.binary(max_size=1000), max_size=30))
def test_framer_carries_remainders(chunks):
    framer = Framer(8000)
    frames = []
    for chunk in chunks:
        frames += framer.push(chunk)
    data = b"".join(chunks)
    assert all(len(f) == 320 for f in frames)
    whole = len(data) - len(data) % 320
    assert b"".join(frames) == data[:whole]
    assert framer.pending_bytes == len(data) - whole
    tail = framer.flush()
    if whole == len(data):
        assert tail == b""
    else:
        assert tail == data[whole:] + bytes(320 - (len(data) - whole))
    assert framer.pending_bytes == 0
    assert framer.flush() == b""


def test_framer_odd_byte_split_sample():
    framer = Framer(8000)
    assert framer.push(b"\x01" * 319) == []
    frames = framer.push(b"\x02\x03")
    assert frames == [b"\x01" * 319 + b"\x02"]
    assert framer.pending_bytes == 1


def test_framer_reset():
    framer = Framer(16000)
    framer.push(b"ab")
    framer.reset()
    assert framer.flush() == b""
