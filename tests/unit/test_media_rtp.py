"""RTP packet building/parsing, sequence arithmetic and the outgoing stream."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.rtp import RtpError, RtpPacket, RtpStream, seq_distance

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)

packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence=u16,
    timestamp=u32,
    ssrc=u32,
    payload=st.binary(max_size=400),
    marker=st.booleans(),
    csrcs=st.lists(u32, max_size=15).map(tuple),
    extension=st.none() | st.tuples(u16, st.binary(max_size=64).map(
        lambda b: b[: len(b) - len(b) % 4])),
    padding=st.integers(0, 255),
)


@given(packets)
def test_round_trip(packet):
    assert RtpPacket.parse(packet.to_bytes()) == packet


def test_fast_parse_builds_a_normal_frozen_packet():
    packet = RtpPacket.parse(bytes.fromhex("80 80 0001 00000002 00000003") + b"pcm")
    assert packet == RtpPacket(0, 1, 2, 3, b"pcm", marker=True)
    assert hash(packet) == hash(RtpPacket(0, 1, 2, 3, b"pcm", marker=True))
    with pytest.raises(AttributeError):
        packet.sequence = 9


def test_wire_layout_of_plain_packet():
    packet = RtpPacket(0, 0x1234, 0xDEADBEEF, 0x01020304, b"\xff" * 160, marker=True)
    data = packet.to_bytes()
    assert data[:12] == bytes.fromhex("80 80 1234 deadbeef 01020304")
    assert data[12:] == b"\xff" * 160


def test_wire_layout_with_csrc_extension_padding():
    packet = RtpPacket(8, 1, 2, 3, b"ab", csrcs=(7,), extension=(0xBEDE, b"\x01\x02\x03\x04"),
                       padding=3)
    data = packet.to_bytes()
    assert data[0] == 0x80 | 0x20 | 0x10 | 1
    assert data[12:16] == struct.pack("!I", 7)
    assert data[16:20] == struct.pack("!HH", 0xBEDE, 1)
    assert data[20:24] == b"\x01\x02\x03\x04"
    assert data[24:] == b"ab\x00\x00\x03"


@given(packets)
def test_every_truncation_of_the_header_raises(packet):
    data = packet.to_bytes()
    header_len = len(data) - len(packet.payload) - packet.padding
    for cut in range(header_len):
        with pytest.raises(RtpError):
            RtpPacket.parse(data[:cut])


@given(st.binary(max_size=80))
def test_garbage_raises_only_rtp_error(data):
    try:
        packet = RtpPacket.parse(data)
    except RtpError:
        return
    assert 0 <= packet.payload_type <= 127


@pytest.mark.parametrize("first", [0x00, 0x40, 0xC0])
def test_wrong_version_raises(first):
    with pytest.raises(RtpError, match="version"):
        RtpPacket.parse(bytes([first, 0]) + bytes(10))


def test_bad_padding_raises():
    header = bytes([0xA0, 0]) + bytes(10)
    with pytest.raises(RtpError, match="padding"):
        RtpPacket.parse(header + b"abc\x00")  # count 0
    with pytest.raises(RtpError, match="padding"):
        RtpPacket.parse(header + b"a\x09")  # count beyond the packet


def test_build_rejects_out_of_range_fields():
    with pytest.raises(RtpError):
        RtpPacket(128, 0, 0, 0, b"").to_bytes()
    with pytest.raises(RtpError):
        RtpPacket(0, 70000, 0, 0, b"").to_bytes()
    with pytest.raises(RtpError):
        RtpPacket(0, 0, 0, 0, b"", csrcs=tuple(range(16))).to_bytes()
    with pytest.raises(RtpError):
        RtpPacket(0, 0, 0, 0, b"", extension=(1, b"abc")).to_bytes()


def test_rtp_error_is_a_value_error():
    assert issubclass(RtpError, ValueError)


@given(u16, st.integers(-32768, 32767))
def test_seq_distance(a, d):
    assert seq_distance(a, (a + d) % 65536) == d


def test_seq_distance_across_wrap():
    assert seq_distance(65535, 0) == 1
    assert seq_distance(0, 65535) == -1
    assert seq_distance(65530, 4) == 10


def test_stream_sequence_and_timestamp_wrap():
    stream = RtpStream(0, ssrc=42, sequence=65534, timestamp=2**32 - 160)
    packets = [stream.next_packet(b"x", 160) for _ in range(3)]
    assert [p.sequence for p in packets] == [65534, 65535, 0]
    assert [p.timestamp for p in packets] == [2**32 - 160, 0, 160]
    assert {p.ssrc for p in packets} == {42}


def test_stream_marker_on_first_and_after_talkspurt():
    stream = RtpStream(8)
    assert [stream.next_packet(b"", 160).marker for _ in range(3)] == [True, False, False]
    stream.mark_talkspurt()
    assert stream.next_packet(b"", 160).marker is True
    assert stream.next_packet(b"", 160).marker is False
    assert stream.next_packet(b"", 160, marker=True).marker is True


def test_stream_skip_advances_timestamp_only():
    stream = RtpStream(0, sequence=10, timestamp=1000)
    stream.next_packet(b"", 160)
    stream.skip(320)
    packet = stream.next_packet(b"", 160)
    assert (packet.sequence, packet.timestamp) == (11, 1480)


def test_stream_random_start_values_differ():
    starts = {(s.sequence, s.timestamp, s.ssrc) for s in (RtpStream(0) for _ in range(8))}
    assert len(starts) == 8


def test_next_datagram_matches_next_packet():
    a = RtpStream(0, ssrc=1, sequence=65535, timestamp=2**32 - 80)
    b = RtpStream(0, ssrc=1, sequence=65535, timestamp=2**32 - 80)
    for marker in (False, False, True, False):
        assert a.next_datagram(b"pay", 160, marker) == b.next_packet(b"pay", 160, marker).to_bytes()
    b.mark_talkspurt()
    a.mark_talkspurt()
    assert a.next_datagram(b"", 160) == b.next_packet(b"", 160).to_bytes()
