"""The voice port as a media link: a byte stream cut into 20 ms frames whatever the read
sizes, one 320-byte write per tick, and the port vanishing reported once."""

from __future__ import annotations

import os

from channels.gsm.pcm import FRAME_BYTES, PcmSerialLink
from media.codecs import Pcm16Codec
from media.rtp import RtpPacket
from tests.gsm.conftest import until
from tests.gsm.sim7600 import Sim7600Simulator


def test_pcm16_codec_is_identity_on_little_endian() -> None:
    codec = Pcm16Codec()
    pcm = (1000).to_bytes(2, "little", signed=True) * 160
    assert codec.encode(pcm) == pcm and codec.decode(pcm + b"\x01") == pcm
    assert (codec.name, codec.sample_rate, codec.bytes_per_sample) == ("pcm16le", 8000, 2)


async def test_frames_in_and_out(sim: Sim7600Simulator) -> None:
    codec = Pcm16Codec()
    packets: list[RtpPacket] = []
    lost: list[str] = []
    link = PcmSerialLink(str(sim.pcm_path), codec.payload_type, on_lost=lost.append).open()
    link.on_packet = packets.append
    link.payload_types = codec.accepted_payload_types
    master = sim.pcm_fd  # the test plays the modem's side of the port
    try:
        stream = bytes(range(256)) * 5  # 1280 bytes = 4 frames, written in odd pieces
        for piece in (stream[:100], stream[100:700], stream[700:1279]):
            os.write(master, piece)
        await until(lambda: len(packets) == 3, 2, "three whole frames")
        os.write(master, stream[1279:])
        await until(lambda: len(packets) == 4, 2, "the fourth frame")
        assert b"".join(p.payload for p in packets) == stream
        assert [p.sequence for p in packets] == [0, 1, 2, 3]
        assert [p.timestamp for p in packets] == [0, 160, 320, 480]

        for i in range(3):
            link.send_frame(bytes([i]) * FRAME_BYTES, 160)
        out = bytearray()
        await until(lambda: out.extend(_drain(master)) or len(out) == 3 * FRAME_BYTES, 2,
                    "three frames out")
        assert bytes(out) == b"".join(bytes([i]) * FRAME_BYTES for i in range(3))
        assert link.stats.sent == 3 and link.stats.delivered == 4

        sim.unplug()
        await until(lambda: lost, 2, "the loss reported")
        assert link.closed and len(lost) == 1
        link.send_frame(bytes(FRAME_BYTES), 160)
        assert link.stats.unsent == 1
    finally:
        link.close()


def _drain(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""
