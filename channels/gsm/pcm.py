"""A GSM call's voice: the SIM7600's PCM serial port (after AT+CPCMREG=1) as a `MediaLink`.

The port carries 8 kHz signed 16-bit little-endian mono both ways, as a plain byte stream
with no framing: what arrives is cut into 320-byte (20 ms) frames, numbered for the
jitter buffer; what the frame clock sends goes out as exactly one 320-byte write per tick.
The modem plays what it gets as it gets it, so the clock's pace is the call's pace.
The port vanishing (USB re-enumeration) is reported once through `on_lost`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from typing import Any

from channels.gsm.serial_port import SerialPort
from media.link import FrameLinkStats, FrameNumberer
from media.rtp import RtpPacket

FRAME_BYTES = 320  # 20 ms of 8 kHz 16-bit mono
FRAME_SAMPLES = FRAME_BYTES // 2
MAX_BACKLOG_FRAMES = 5  # the port not draining (modem stalled): drop rather than pile up


class PcmSerialLink(SerialPort):
    """Open with `open()` (raises `PortGone`); `CallMedia` sets `on_packet`."""

    role = "GSM voice port"
    read_size = 8192

    def __init__(self, port: str, payload_type: int, baudrate: int = 115200, *,
                 on_lost: Callable[[str], None] | None = None) -> None:
        super().__init__(port, baudrate, on_lost=on_lost)
        self.on_packet: Callable[[RtpPacket], Any] | None = None
        self.payload_types: Collection[int] | None = None
        self._numberer = FrameNumberer(payload_type)
        self._stats = FrameLinkStats()
        self._in = bytearray()
        self._out = bytearray()
        self.dropped_bytes = 0  # a torn frame at the end of the call

    @property
    def stats(self) -> FrameLinkStats:
        return self._stats

    def open(self) -> PcmSerialLink:
        port = self._open_port(write_timeout=0)
        port.reset_input_buffer()  # voice from before this call is not this call's
        return self

    # ---- incoming ---------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        self._stats.received += 1
        self._in += data
        while len(self._in) >= FRAME_BYTES:
            frame = bytes(self._in[:FRAME_BYTES])
            del self._in[:FRAME_BYTES]
            self._deliver(frame)

    def _deliver(self, frame: bytes) -> None:
        packet = self._numberer.packet(frame, FRAME_SAMPLES)
        hook = self.on_packet
        if hook is None or (self.payload_types is not None
                            and packet.payload_type not in self.payload_types):
            return
        self._stats.delivered += 1
        hook(packet)

    # ---- outgoing ---------------------------------------------------------------------

    def send_frame(self, payload: bytes, samples: int) -> None:
        if self._closed or self._serial is None:
            self._stats.unsent += 1
            return
        self._out += payload
        if len(self._out) > MAX_BACKLOG_FRAMES * FRAME_BYTES:
            excess = len(self._out) - MAX_BACKLOG_FRAMES * FRAME_BYTES
            del self._out[:excess]
            self._stats.unsent += 1
        try:
            written = os.write(self._serial.fileno(), self._out)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._lost(f"write failed: {exc}")
            return
        del self._out[:written]
        self._stats.sent += 1

    def skip(self, samples: int) -> None:
        """Nothing to tell a byte stream: the modem simply plays the next frame later."""

    # ---- lifetime ---------------------------------------------------------------------

    def _closing(self, reason: str) -> None:
        self.dropped_bytes += len(self._in)
        self._in.clear()
        self._out.clear()
