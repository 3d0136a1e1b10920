"""RtpEndpoint on loopback: delivers good packets, drops strangers and garbage, never raises."""

import asyncio
import logging
import socket

import pytest

from media.rtp import RtpPacket
from media.transport import RtpEndpoint, open_rtp_endpoint


def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


async def until(cond):
    async with asyncio.timeout(2):
        while not cond():  # noqa: ASYNC110 - polling a plain counter is fine in a test
            await asyncio.sleep(0.005)


def good(seq=1, pt=0):
    return RtpPacket(pt, seq, seq * 160, 99, b"\xff" * 160).to_bytes()


@pytest.fixture
def far():
    s = udp_socket()
    yield s
    s.close()


@pytest.fixture
def stranger():
    s = udp_socket()
    yield s
    s.close()


async def test_delivers_from_remote_and_drops_the_rest(far, stranger, caplog):
    got = []
    ep = await open_rtp_endpoint("127.0.0.1", 0, on_packet=got.append,
                                 remote=far.getsockname())
    host, port = ep.local_address
    assert host == "127.0.0.1" and port > 0
    caplog.set_level(logging.WARNING, logger="media.transport")
    stranger.sendto(good(1), (host, port))
    stranger.sendto(good(2), (host, port))
    far.sendto(b"\x80\x00\x01", (host, port))  # truncated
    far.sendto(b"\x00" * 20, (host, port))  # version 0
    far.sendto(good(3, pt=101), (host, port))  # telephone-event: not for us
    far.sendto(good(4), (host, port))
    await until(lambda: ep.stats.received == 6)
    assert [p.sequence for p in got] == [4]
    s = ep.stats
    assert (s.strangers, s.malformed, s.unknown_payload, s.delivered) == (2, 2, 1, 1)
    stranger_logs = [r for r in caplog.records if "dropping packets from" in r.getMessage()]
    assert len(stranger_logs) == 1  # once per stranger address, not per packet
    malformed_logs = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(malformed_logs) == 1
    ep.close()


async def test_send_goes_to_remote(far):
    ep = await open_rtp_endpoint("127.0.0.1", 0, remote=far.getsockname())
    packet = RtpPacket(0, 7, 1120, 5, b"\x01\x02")
    assert ep.send(packet)
    loop = asyncio.get_running_loop()
    data, addr = await asyncio.wait_for(loop.sock_recvfrom(far, 2048), 2)
    assert RtpPacket.parse(data) == packet
    assert addr == ep.local_address  # sent from the socket Asterisk knows
    assert ep.stats.sent == 1
    ep.close()


async def test_latch_remote(far, stranger):
    got = []
    ep = await open_rtp_endpoint("127.0.0.1", 0, on_packet=got.append, latch_remote=True)
    assert ep.remote is None
    assert not ep.send(RtpPacket(0, 1, 1, 1, b""))  # nowhere to send yet
    assert ep.stats.unsent == 1
    far.sendto(good(1), ep.local_address)
    await until(lambda: got)
    assert ep.remote == far.getsockname()
    stranger.sendto(good(2), ep.local_address)
    far.sendto(good(3), ep.local_address)
    await until(lambda: ep.stats.received == 3)
    assert [p.sequence for p in got] == [1, 3]
    assert ep.send(RtpPacket(0, 2, 2, 2, b"x"))
    ep.close()


async def test_no_latch_means_accept_anyone_until_remote_set(far, stranger):
    got = []
    ep = await open_rtp_endpoint("127.0.0.1", 0, on_packet=got.append)
    stranger.sendto(good(1), ep.local_address)
    await until(lambda: got)
    assert ep.remote is None  # not latched
    ep.set_remote(far.getsockname())
    stranger.sendto(good(2), ep.local_address)
    await until(lambda: ep.stats.strangers == 1)
    ep.close()


async def test_payload_type_filter_can_be_disabled(far):
    got = []
    loop = asyncio.get_running_loop()
    _, ep = await loop.create_datagram_endpoint(
        lambda: RtpEndpoint(got.append, remote=far.getsockname(), payload_types=None),
        local_addr=("127.0.0.1", 0))
    far.sendto(good(1, pt=101), ep.local_address)
    await until(lambda: got)
    assert got[0].payload_type == 101
    ep.close()


async def test_close_and_send_after_close(far):
    ep = await open_rtp_endpoint("127.0.0.1", 0, remote=far.getsockname())
    ep.close()
    await until(lambda: ep.is_closed)
    assert not ep.send(RtpPacket(0, 1, 1, 1, b""))
    ep.close()  # idempotent


async def test_remote_must_be_an_ip():
    ep = RtpEndpoint()
    with pytest.raises(ValueError):
        ep.set_remote(("asterisk.local", 4000))
    with pytest.raises(ValueError):
        ep.set_remote(("127.0.0.1", 0))
    ep.set_remote(("127.0.0.1", 4000))
    assert ep.remote == ("127.0.0.1", 4000)
