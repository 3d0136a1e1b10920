"""Jitter buffer: ordering, duplicates, late packets, loss across wrap, resets, trimming."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.jitter import JitterBuffer
from media.rtp import RtpPacket, seq_distance


def pkt(seq, ssrc=1):
    return RtpPacket(0, seq % 65536, seq * 160 % 2**32, ssrc, bytes([seq % 256]))


def seqs(out):
    return [None if p is None else p.sequence for p in out]


def test_prefetch_then_in_order():
    jb = JitterBuffer(depth=3)
    jb.push(pkt(10))
    jb.push(pkt(11))
    assert jb.pop() is None  # not primed: only 2 of 3
    jb.push(pkt(12))
    assert seqs(jb.pop() for _ in range(3)) == [10, 11, 12]
    assert jb.lost == 0


def test_reorders():
    jb = JitterBuffer(depth=4)
    for s in (1, 3, 2, 4):
        assert jb.push(pkt(s))
    assert seqs(jb.pop() for _ in range(4)) == [1, 2, 3, 4]
    assert jb.reordered == 1


def test_drops_duplicates():
    jb = JitterBuffer(depth=2)
    assert jb.push(pkt(5))
    assert not jb.push(pkt(5))
    jb.push(pkt(6))
    assert seqs(jb.pop() for _ in range(2)) == [5, 6]
    assert jb.duplicates == 1


def test_drops_late_packets():
    jb = JitterBuffer(depth=2)
    for s in (1, 2, 4):
        jb.push(pkt(s))
    assert seqs(jb.pop() for _ in range(3)) == [1, 2, None]  # 3 missing: played as a gap
    assert not jb.push(pkt(3))  # arrives after its turn
    assert not jb.push(pkt(2))  # already played
    assert jb.late == 2
    assert seqs([jb.pop()]) == [4]


def test_gap_does_not_stall_playout():
    jb = JitterBuffer(depth=2)
    for s in (1, 2, 5, 6):
        jb.push(pkt(s))
    assert seqs(jb.pop() for _ in range(6)) == [1, 2, None, None, 5, 6]
    assert jb.lost == 2


def test_loss_counted_across_wrap():
    jb = JitterBuffer(depth=3)
    sent = [65532, 65533, 65534, 0, 1, 3]  # 65535 and 2 lost
    for s in sent:
        jb.push(pkt(s))
    assert seqs(jb.pop() for _ in range(8)) == [65532, 65533, 65534, None, 0, 1, None, 3]
    assert jb.lost == 2
    assert jb.late == jb.reordered == 0


def test_ssrc_change_resets():
    jb = JitterBuffer(depth=2)
    for s in (100, 101, 102):
        jb.push(pkt(s, ssrc=1))
    assert seqs([jb.pop()]) == [100]
    jb.push(pkt(7, ssrc=2))  # Asterisk restarted: new SSRC, new numbering
    assert jb.resets == 1
    assert jb.pop() is None  # re-priming
    jb.push(pkt(8, ssrc=2))
    assert seqs(jb.pop() for _ in range(2)) == [7, 8]


def test_big_jump_needs_confirmation():
    jb = JitterBuffer(depth=1)
    jb.push(pkt(100))
    assert seqs([jb.pop()]) == [100]
    assert not jb.push(pkt(30000))  # a stray
    assert jb.jumps == 1
    jb.push(pkt(101))
    assert seqs([jb.pop()]) == [101]
    assert not jb.push(pkt(40000))
    assert jb.push(pkt(40001))  # the next one agrees: the sender restarted its numbering
    assert jb.resets == 1
    assert seqs([jb.pop()]) == [40001]


def test_underrun_reprimes():
    jb = JitterBuffer(depth=2)
    jb.push(pkt(1))
    jb.push(pkt(2))
    assert seqs(jb.pop() for _ in range(2)) == [1, 2]
    assert jb.pop() is None
    assert jb.underruns == 1
    jb.push(pkt(3))
    assert jb.pop() is None  # waiting for depth again
    jb.push(pkt(4))
    assert seqs(jb.pop() for _ in range(2)) == [3, 4]
    assert jb.lost == 0


def test_overflow_before_playout_keeps_newest():
    jb = JitterBuffer(depth=3, capacity=10)
    for s in range(15):
        jb.push(pkt(s))
    assert len(jb) == 10
    assert jb.overflow == 5
    assert seqs([jb.pop()]) == [5]


def test_sender_far_ahead_skips_forward():
    jb = JitterBuffer(depth=2, capacity=10)
    for s in (1, 2):
        jb.push(pkt(s))
    assert seqs([jb.pop()]) == [1]
    jb.push(pkt(40))  # outage of 37 packets, beyond what the buffer spans
    assert len(jb) == 1
    assert jb.lost + jb.overflow == 38
    jb.push(pkt(41))
    assert seqs(jb.pop() for _ in range(2)) == [40, 41]


def test_trims_latency_that_is_never_used():
    jb = JitterBuffer(depth=2, trim_window=10)
    for s in range(6):  # a burst: 6 buffered, target 2
        jb.push(pkt(s))
    out = []
    for s in range(6, 40):
        jb.push(pkt(s))
        out.append(jb.pop())
    assert jb.trimmed >= 1
    assert len(jb) < 6
    played = [p.sequence for p in out if p is not None]
    assert played == sorted(played)


def test_rejects_bad_config():
    with pytest.raises(ValueError):
        JitterBuffer(depth=0)
    with pytest.raises(ValueError):
        JitterBuffer(depth=5, capacity=4)


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 65535), n=st.integers(1, 120),
       delays=st.lists(st.integers(0, 2), min_size=120, max_size=120),
       dups=st.sets(st.integers(0, 119)))
def test_reordering_within_depth_loses_nothing(start, n, delays, dups):
    jb = JitterBuffer(depth=3, trim_window=10**9)
    arrivals = {}
    for i in range(n):
        arrivals.setdefault(i + delays[i], []).append(i)
        if i in dups:
            arrivals.setdefault(i + 2, []).append(i)
    played = []
    for tick in range(n + 10):
        for i in arrivals.get(tick, []):
            jb.push(pkt(start + i))
        p = jb.pop()
        if p is not None:
            played.append(p.sequence)
    assert played == [(start + i) % 65536 for i in range(n)]
    assert jb.lost == 0
    assert jb.duplicates + jb.late == len([i for i in dups if i < n])


@settings(max_examples=60, deadline=None)
@given(start=st.integers(65000, 65535), n=st.integers(3, 150),
       dropped=st.sets(st.integers(1, 148)))
def test_losses_counted_and_order_kept(start, n, dropped):
    jb = JitterBuffer(depth=3, trim_window=10**9)
    dropped = {d for d in dropped if d < n - 1}
    played = []
    for tick in range(n + 10):
        if tick < n and tick not in dropped:
            jb.push(pkt(start + tick))
        p = jb.pop()
        if p is not None:
            played.append(p.sequence)
    assert played == [(start + i) % 65536 for i in range(n) if i not in dropped]
    assert all(seq_distance(a, b) > 0 for a, b in itertools.pairwise(played))
    assert jb.lost == len(dropped)
