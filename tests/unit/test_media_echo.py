"""Echo hook: plays back what it hears, optionally via another rate and in blocks."""

import numpy as np

from media.echo import Echo


def frames(n, rate=8000):
    t = np.arange(n * rate // 50)
    x = (np.sin(2 * np.pi * 300 * t / rate) * 8000).astype(np.int16).tobytes()
    size = rate // 50 * 2
    return [x[i:i + size] for i in range(0, len(x), size)]


def test_plain_echo_plays_each_frame_back():
    played = []
    echo = Echo(lambda pcm, rate: played.append((pcm, rate)), 8000)
    fs = frames(3)
    for f in fs:
        echo(f)
    assert played == [(f, 8000) for f in fs]
    assert echo.frames == 3


def test_blocks_gather_audio_before_playing():
    played = []
    echo = Echo(lambda pcm, rate: played.append((pcm, rate)), 8000, block_ms=100)
    fs = frames(12)
    for f in fs:
        echo(f)
    assert [len(p) for p, _ in played] == [1600, 1600]  # 2 blocks of 5 frames; 2 pending
    assert b"".join(p for p, _ in played) == b"".join(fs[:10])


def test_via_rate_resamples_on_the_way():
    played = []
    echo = Echo(lambda pcm, rate: played.append((pcm, rate)), 8000, via_rate=16000)
    for f in frames(50):  # 1 s
        echo(f)
    assert {rate for _, rate in played} == {16000}
    total = sum(len(p) for p, _ in played) // 2
    assert 14000 < total <= 16000  # all but what the filter still holds
