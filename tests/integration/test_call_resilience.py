"""Bad input and failures in real calls: hostile RTP, a killed secretary, Asterisk restarting."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import wave
from pathlib import Path

import pytest

from asterisk.server import AsteriskServer
from tests.integration.conftest import (
    Secretary,
    start_secretary,
    stop_secretary,
    wait_for_no_leftovers,
    wait_until_registered,
)
from tests.integration.test_phone_call import RATE, after_greeting, caller_signal, greeting_8k
from tests.signal_analysis import band_fraction
from tests.sip_caller import read_wav

pytestmark = pytest.mark.integration


async def media_port(ari, within_s: float = 10.0) -> int:
    """Our RTP socket's port, read from the externalMedia channel's name in Asterisk."""
    for _ in range(int(within_s / 0.1)):
        for channel in await ari.channels():
            match = re.match(r"UnicastRTP/127\.0\.0\.1:(\d+)-", channel["name"])
            if match:
                return int(match.group(1))
        await asyncio.sleep(0.1)
    raise AssertionError("no externalMedia channel appeared")


def rtp(payload_type: int, seq: int, payload: bytes, ssrc: int = 0x1234) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, seq * 160, ssrc) + payload


async def test_hostile_rtp_does_not_disturb_the_call(
    secretary: Secretary, ari, tmp_path: Path
) -> None:
    caller = secretary.caller(tmp_path / "c", caller_signal(tmp_path / "s.wav", 600, 11), seconds=9)
    await caller.start()
    port = await media_port(ari)
    await asyncio.sleep(1.0)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for seq in range(200):
            stranger.sendto(b"\x00", ("127.0.0.1", port))  # truncated
            stranger.sendto(b"\x40" + bytes(20), ("127.0.0.1", port))  # RTP version 1
            stranger.sendto(rtp(0, seq, b"\xff" * 160), ("127.0.0.1", port))  # a stranger's RTP
            stranger.sendto(rtp(99, seq, b"\x00" * 160), ("127.0.0.1", port))  # unknown type
            await asyncio.sleep(0.005)
    finally:
        stranger.close()
    assert await caller.wait() == 0

    echo = after_greeting(caller.heard()[0], greeting_8k(secretary))
    assert band_fraction(echo, RATE, 600) > 0.8, "hostile packets disturbed the call"
    [recording] = secretary.recordings("input")
    assert band_fraction(read_wav(recording)[0], RATE, 600) > 0.8
    log = secretary.log_text()
    assert log.count("127.0.0.1:") < 50, "bad packets must be logged once, not per packet"
    channels, bridges = await wait_for_no_leftovers(ari)
    assert channels == [] and bridges == []


async def test_killed_secretary_keeps_recordings_and_a_restart_picks_the_caller_up(
    secretary: Secretary, ari, tmp_path: Path
) -> None:
    speak = caller_signal(tmp_path / "s.wav", 800, 20)
    caller = secretary.caller(tmp_path / "c", speak, seconds=16)
    await caller.start()
    await media_port(ari)
    await asyncio.sleep(5.0)  # greeting over, echo running
    secretary.process.kill()
    secretary.process.wait()

    [input_wav] = secretary.recordings("input")
    with wave.open(str(input_wav)) as wav:  # still a valid WAV after SIGKILL
        assert wav.getframerate() == RATE
        assert wav.getnframes() > 3 * RATE
    received, _ = read_wav(input_wav)
    assert band_fraction(received, RATE, 800) > 0.8

    # A new secretary process finds the caller still in Stasis and talks to it again.
    revived = start_secretary(tmp_path, name="revived")
    try:
        assert await caller.wait() == 0
        heard, _ = caller.heard()
        greeting = greeting_8k(secretary)
        # The first greeting is over before the kill; look for the second one after it.
        echo = after_greeting(heard[len(greeting) + RATE // 2 :], greeting)
        assert band_fraction(echo, RATE, 800) > 0.8, "the caller was not picked up again"
        channels, bridges = await wait_for_no_leftovers(ari)
        assert channels == [] and bridges == [], "orphans of the killed process were left"
        assert "orphaned bridge" in revived.log_text()
    finally:
        stop_secretary(revived)


async def test_asterisk_restart_mid_call_is_survived(
    secretary: Secretary, asterisk_server: AsteriskServer, ari, tmp_path: Path
) -> None:
    speak = caller_signal(tmp_path / "s.wav", 600, 12)
    caller = secretary.caller(tmp_path / "c1", speak, seconds=10)
    await caller.start()
    await media_port(ari)
    await asyncio.sleep(2.0)
    await asyncio.to_thread(asterisk_server.stop)
    await asyncio.to_thread(asterisk_server.start)
    await asyncio.to_thread(wait_until_registered, secretary, 2)
    await caller.wait()

    [first_input] = secretary.recordings("input")
    with wave.open(str(first_input)) as wav:
        assert wav.getnframes() > RATE, "the interrupted call's recording was lost"
    log = secretary.log_text()
    assert "vanished while ARI was away" in log or "ended after" in log
    assert secretary.process.poll() is None, "the secretary died with Asterisk"

    # The same process takes the next call normally.
    speak = caller_signal(tmp_path / "t.wav", 1000, 9)
    second = secretary.caller(tmp_path / "c2", speak, seconds=7)
    await second.start()
    assert await second.wait() == 0
    echo = after_greeting(second.heard()[0], greeting_8k(secretary))
    assert band_fraction(echo, RATE, 1000) > 0.8
