"""Where one call's frames come from and go to: the seam between `CallMedia` and a line.

Asterisk's externalMedia (RTP over UDP), a Twilio Media Streams websocket and a GSM
modem's PCM serial port all carry 20 ms frames of one codec. `CallMedia` is the same
pipeline on each (jitter buffer, recorder, VAD hook, paced playout); only the link
differs. A link hands frames that arrive to `on_packet` as `RtpPacket`s, because the
jitter buffer orders by sequence number: links without RTP headers number their frames
themselves (`FrameNumberer`). Outgoing, the pipeline gives the link one encoded frame
per tick (`send_frame`), or tells it that ticks were skipped (`skip`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

from media.rtp import RtpPacket


class LinkStats(Protocol):
    delivered: int  # frames handed to on_packet
    sent: int  # frames sent

    def as_dict(self) -> dict[str, int]: ...


@dataclass(slots=True)
class FrameLinkStats:
    """Counters of a link that is not RTP (websocket, serial port)."""

    received: int = 0  # messages or reads
    delivered: int = 0
    malformed: int = 0  # messages that could not be read (logged, never raised)
    sent: int = 0
    unsent: int = 0  # frames to send while the far end was gone or not yet there

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class MediaLink(Protocol):
    """One call's frame transport, as `CallMedia` uses it."""

    on_packet: Callable[[RtpPacket], Any] | None
    payload_types: Collection[int] | None  # what the pipeline's codec decodes

    @property
    def stats(self) -> LinkStats: ...

    def send_frame(self, payload: bytes, samples: int) -> None:
        """Send one encoded 20 ms frame now (called on the frame clock's tick)."""

    def skip(self, samples: int) -> None:
        """The clock skipped ticks: let the far end see the gap (never burst)."""

    def close(self) -> None: ...


@runtime_checkable
class BufferingLink(Protocol):
    """A link whose far end keeps its own queue of what it was sent (Twilio plays media
    messages from a buffer): on barge-in, dropping our playout is not enough, the far end
    must drop its queue too. RTP links are not this: a datagram sent is a datagram played."""

    def clear_far_end(self) -> None:
        """Tell the far end to drop the audio it holds but has not played yet."""


class FrameNumberer:
    """Wraps payloads that arrive without RTP headers into packets the jitter buffer
    orders: consecutive sequence numbers and timestamps, one synthetic source."""

    __slots__ = ("payload_type", "sequence", "ssrc", "timestamp")

    def __init__(self, payload_type: int, ssrc: int = 1) -> None:
        self.payload_type = payload_type
        self.ssrc = ssrc
        self.sequence = 0
        self.timestamp = 0

    def packet(self, payload: bytes, samples: int, sequence: int | None = None) -> RtpPacket:
        """The next frame; `sequence` when the line numbers its frames (Twilio does)."""
        seq = self.sequence if sequence is None else sequence
        packet = RtpPacket(self.payload_type, seq & 0xFFFF, self.timestamp & 0xFFFFFFFF,
                           self.ssrc, payload)
        self.sequence = (seq + 1) & 0xFFFF
        self.timestamp += samples
        return packet
