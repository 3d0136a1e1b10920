"""RTP packets (RFC 3550): parsing, building, sequence arithmetic, outgoing stream state."""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

RTP_VERSION = 2
HEADER_BYTES = 12
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32

_HEADER = struct.Struct("!BBHII")
_EXT_HEADER = struct.Struct("!HH")
_WORD = struct.Struct("!I")


class RtpError(ValueError):
    """A datagram that is not a well-formed RTP packet, or a packet that cannot be built."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP packet. `extension` is (profile, data) with len(data) a multiple of 4;
    `padding` is the number of padding bytes on the wire (0 = no P bit)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None
    padding: int = 0

    def to_bytes(self) -> bytes:
        pt = self.payload_type
        if not 0 <= pt <= 127:
            raise RtpError(f"payload type {pt} out of range 0..127")
        csrcs = self.csrcs
        if len(csrcs) > 15:
            raise RtpError(f"{len(csrcs)} CSRCs; RTP allows at most 15")
        ext = self.extension
        pad = self.padding
        b0 = 0x80 | len(csrcs)
        if ext is not None:
            b0 |= 0x10
        if pad:
            if not 0 < pad <= 255:
                raise RtpError(f"padding {pad} out of range 1..255")
            b0 |= 0x20
        try:
            head = _HEADER.pack(b0, (0x80 if self.marker else 0) | pt,
                                self.sequence, self.timestamp, self.ssrc)
            if not csrcs and ext is None and not pad:
                return head + self.payload  # the hot path: plain audio packets
            parts = [head]
            parts.extend(_WORD.pack(c) for c in csrcs)
        except struct.error as exc:
            raise RtpError(f"header field out of range: {exc}") from exc
        if ext is not None:
            profile, data = ext
            if len(data) % 4:
                raise RtpError(f"extension data is {len(data)} bytes, not a multiple of 4")
            if len(data) // 4 > 0xFFFF or not 0 <= profile <= 0xFFFF:
                raise RtpError("extension profile or length out of range")
            parts.append(_EXT_HEADER.pack(profile, len(data) // 4))
            parts.append(bytes(data))
        parts.append(self.payload)
        if pad:
            parts.append(bytes(pad - 1) + bytes((pad,)))
        return b"".join(parts)

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        n = len(data)
        if n < HEADER_BYTES:
            raise RtpError(f"truncated: {n} bytes, an RTP header needs {HEADER_BYTES}")
        b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
        if b0 == 0x80 and cls is RtpPacket:  # the hot path: no CSRC, extension or padding
            return _plain_packet(b1 & 0x7F, seq, ts, ssrc, bytes(data[HEADER_BYTES:]),
                                 b1 >= 0x80)
        version = b0 >> 6
        if version != RTP_VERSION:
            raise RtpError(f"RTP version {version}, expected {RTP_VERSION}")
        cc = b0 & 0x0F
        offset = HEADER_BYTES + 4 * cc
        if n < offset:
            raise RtpError(f"truncated: {n} bytes, header with {cc} CSRCs needs {offset}")
        csrcs = struct.unpack_from(f"!{cc}I", data, HEADER_BYTES) if cc else ()
        extension = None
        if b0 & 0x10:
            if n < offset + 4:
                raise RtpError(f"truncated: {n} bytes, extension header needs {offset + 4}")
            profile, words = _EXT_HEADER.unpack_from(data, offset)
            offset += 4
            end = offset + 4 * words
            if n < end:
                raise RtpError(f"truncated: {n} bytes, header extension needs {end}")
            extension = (profile, bytes(data[offset:end]))
            offset = end
        end = n
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or offset + padding > n:
                raise RtpError(f"bad padding count {padding} for {n - offset} bytes after header")
            end -= padding
        return cls(b1 & 0x7F, seq, ts, ssrc, bytes(data[offset:end]), b1 >= 0x80,
                   tuple(csrcs), extension, padding)


_new = object.__new__
(_set_pt, _set_seq, _set_ts, _set_ssrc, _set_payload, _set_marker, _set_csrcs, _set_ext,
 _set_padding) = (getattr(RtpPacket, name).__set__ for name in (
    "payload_type", "sequence", "timestamp", "ssrc", "payload", "marker", "csrcs", "extension",
    "padding"))


def _plain_packet(pt: int, seq: int, ts: int, ssrc: int, payload: bytes,
                  marker: bool) -> RtpPacket:
    """RtpPacket(pt, seq, ts, ssrc, payload, marker) at half the cost: the frozen
    dataclass __init__ goes through object.__setattr__ per field; the slot descriptors
    are set directly here (every received packet of every call comes through this)."""
    packet = _new(RtpPacket)
    _set_pt(packet, pt)
    _set_seq(packet, seq)
    _set_ts(packet, ts)
    _set_ssrc(packet, ssrc)
    _set_payload(packet, payload)
    _set_marker(packet, marker)
    _set_csrcs(packet, ())
    _set_ext(packet, None)
    _set_padding(packet, 0)
    return packet


def seq_distance(a: int, b: int) -> int:
    """Signed distance from sequence number `a` to `b` on the 16-bit circle, in -32768..32767:
    positive when `b` comes after `a` (seq_distance(65535, 0) == 1)."""
    return ((b - a + 0x8000) & 0xFFFF) - 0x8000


class RtpStream:
    """Header state of one outgoing RTP stream: sequence, timestamp, SSRC, marker.

    Initial values are random unless given (RFC 3550 §5.1: unpredictable starts).
    """

    __slots__ = ("_marker", "payload_type", "sequence", "ssrc", "timestamp")

    def __init__(self, payload_type: int, *, ssrc: int | None = None,
                 sequence: int | None = None, timestamp: int | None = None) -> None:
        if not 0 <= payload_type <= 127:
            raise ValueError(f"payload type {payload_type} out of range 0..127")
        self.payload_type = payload_type
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc % TS_MOD
        self.sequence = secrets.randbits(16) if sequence is None else sequence % SEQ_MOD
        self.timestamp = secrets.randbits(32) if timestamp is None else timestamp % TS_MOD
        self._marker = True

    def mark_talkspurt(self) -> None:
        """Set the marker bit on the next packet (first packet after a silence gap)."""
        self._marker = True

    def skip(self, samples: int) -> None:
        """Advance the timestamp without sending, so the receiver sees time pass (a gap)."""
        self.timestamp = (self.timestamp + samples) % TS_MOD

    def next_datagram(self, payload: bytes, samples: int, marker: bool = False) -> bytes:
        """Like `next_packet(...).to_bytes()` without building the packet object (the
        per-frame send path of every call)."""
        head = _HEADER.pack(0x80, (0x80 if marker or self._marker else 0) | self.payload_type,
                            self.sequence, self.timestamp, self.ssrc)
        self._marker = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + samples) % TS_MOD
        return head + payload

    def next_packet(self, payload: bytes, samples: int, marker: bool = False) -> RtpPacket:
        packet = RtpPacket(self.payload_type, self.sequence, self.timestamp, self.ssrc,
                           payload, marker or self._marker)
        self._marker = False
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + samples) % TS_MOD
        return packet
