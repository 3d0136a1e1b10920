"""CallMedia on loopback against a fake far end (a plain UDP socket standing in for
Asterisk): silence first, then the caller's audio echoed back; play() with resampling."""

import asyncio
import itertools
import socket
import wave
from datetime import datetime

import numpy as np
import pytest

from media.call_media import CallMedia
from media.clock import FrameClock
from media.codecs import L16Codec, ULawCodec
from media.echo import attach_echo
from media.recorder import CallRecorder
from media.rtp import RtpPacket

SILENCE_ULAW = b"\xff" * 160


@pytest.fixture
def far():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    yield s
    s.close()


@pytest.fixture
async def clock():
    c = FrameClock()
    c.start()
    yield c
    c.stop()


def drain(sock):
    packets = []
    while True:
        try:
            data, _ = sock.recvfrom(2048)
        except BlockingIOError:
            return packets
        packets.append(RtpPacket.parse(data))


def tone_frames(count, freq=400.0):
    """µ-law frames of a tone whose amplitude grows frame by frame (so each is distinct);
    every frame starts at a zero crossing, so the echo path must return them bit-exact."""
    t = np.arange(160)
    codec = ULawCodec()
    return [codec.encode((np.sin(2 * np.pi * freq * t / 8000) * (2000 + 300 * k))
                         .astype(np.int16).tobytes()) for k in range(count)]


async def send_paced(sock, dest, payloads, ssrc=1234, seq0=65500):
    loop = asyncio.get_running_loop()
    start = loop.time()
    for k, payload in enumerate(payloads):
        await asyncio.sleep(max(0.0, start + k * 0.02 - loop.time()))
        packet = RtpPacket(0, (seq0 + k) % 65536, k * 160, ssrc, payload, marker=k == 0)
        sock.sendto(packet.to_bytes(), dest)


async def test_silence_first_then_echo(far, clock, tmp_path):
    recorder = CallRecorder(tmp_path, datetime(2024, 1, 2, 3, 4, 5))
    media = await CallMedia.open(ULawCodec(), clock, host="127.0.0.1",
                                 remote=far.getsockname(), recorder=recorder)
    attach_echo(media)
    media.start()
    await asyncio.sleep(0.2)
    first = drain(far)
    assert len(first) >= 5
    assert all(p.payload == SILENCE_ULAW and p.payload_type == 0 for p in first)
    assert first[0].marker and not any(p.marker for p in first[1:])
    assert len({p.ssrc for p in first}) == 1

    sent = tone_frames(40)
    await send_paced(far, media.local_address, sent)
    await asyncio.sleep(0.3)
    rest = drain(far)
    await media.close()
    await media.close()  # idempotent

    packets = first + rest
    seqs = [p.sequence for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(seqs))
    stamps = [p.timestamp for p in packets]
    assert all((b - a) % 2**32 == 160 for a, b in itertools.pairwise(stamps))
    echoed = [p.payload for p in packets if p.payload != SILENCE_ULAW]
    assert echoed == sent  # every frame, in order, bit-exact
    stats = media.stats()
    assert stats.packets_in == 40
    assert stats.jitter["lost"] == stats.jitter["late"] == 0

    with wave.open(str(recorder.input_path)) as r_in, \
            wave.open(str(recorder.output_path)) as r_out:
        assert r_in.getnframes() == r_out.getnframes() == stats.ticks * 160
        heard = np.frombuffer(r_in.readframes(r_in.getnframes()), dtype=np.int16)
    assert np.abs(heard).max() > 10000  # the caller's tone is in the input recording

    await asyncio.sleep(0.1)
    assert drain(far) == []  # closed: nothing more is sent


async def test_play_resamples_without_clicks(far, clock):
    media = await CallMedia.open(L16Codec(), clock, host="127.0.0.1", remote=far.getsockname())
    media.start()
    rate, seconds = 16000, 0.6
    t = np.arange(int(rate * seconds))
    speech = (np.sin(2 * np.pi * 300 * t / rate) * 10000).astype(np.int16).tobytes()
    rng = np.random.default_rng(7)
    i = 0
    while i < len(speech):  # TTS-like chunks of odd sizes
        n = int(rng.integers(100, 4000)) * 2
        media.play(speech[i:i + n], rate)
        i += n
    media.finish_play()
    assert media.pending_ms == pytest.approx(600, abs=5)
    await asyncio.sleep(seconds + 0.25)
    packets = drain(far)
    await media.close()
    audio = np.concatenate([np.frombuffer(L16Codec().decode(p.payload), dtype=np.int16)
                            for p in packets]).astype(int)
    assert packets[0].payload_type == 10
    voiced = np.flatnonzero(np.abs(audio) > 1000)
    assert (voiced[-1] - voiced[0]) / 8000 == pytest.approx(seconds, abs=0.04)
    body = audio[voiced[0] + 300:voiced[-1] - 300]
    # a 300 Hz sine at 8 kHz steps at most 2*pi*300/8000*10000 = 2356 per sample
    assert np.abs(np.diff(body)).max() < 2356 * 1.05


async def test_clear_playout_stops_audio_within_a_frame(far, clock):
    media = await CallMedia.open(ULawCodec(), clock, host="127.0.0.1", remote=far.getsockname())
    media.start()
    t = np.arange(8000 * 2)
    media.play((np.sin(2 * np.pi * 400 * t / 8000) * 8000).astype(np.int16).tobytes())
    await asyncio.sleep(0.2)
    dropped = media.clear_playout()
    assert dropped > 8000
    drain(far)
    await asyncio.sleep(0.1)
    after = drain(far)
    await media.close()
    assert after and all(p.payload == SILENCE_ULAW for p in after[1:])


async def test_failing_hook_does_not_stop_output(far, clock):
    media = await CallMedia.open(ULawCodec(), clock, host="127.0.0.1", remote=far.getsockname())

    def broken(pcm):
        raise RuntimeError("stt crashed")

    media.on_audio = broken
    media.start()
    await asyncio.sleep(0.15)
    await media.close()
    assert len(drain(far)) >= 5
    assert media.stats().hook_errors >= 5


async def test_start_after_close_raises(clock):
    media = await CallMedia.open(ULawCodec(), clock, host="127.0.0.1")
    await media.close()
    with pytest.raises(RuntimeError):
        media.start()


async def test_skipped_ticks_drain_input_and_jump_timestamps(far, tmp_path):
    recorder = CallRecorder(tmp_path, datetime(2024, 1, 1))
    media = await CallMedia.open(ULawCodec(), FrameClock(), host="127.0.0.1",
                                 remote=far.getsockname(), recorder=recorder, jitter_depth=1)
    heard = []
    media.on_audio = heard.append
    for k in range(6):
        media.jitter.push(RtpPacket(0, 100 + k, k * 160, 7, tone_frames(6)[k]))
    media.on_tick(10)
    media.on_tick(14)  # the clock skipped ticks 11..13 (a stalled loop)
    await asyncio.sleep(0.05)
    sent = drain(far)
    await media.close()
    assert len(heard) == 5  # 1 + 3 drained + 1: nothing the caller said is lost
    assert [len(p) for p in heard] == [320] * 5
    assert len(sent) == 2  # but only one frame per tick goes out: no burst
    assert (sent[1].timestamp - sent[0].timestamp) % 2**32 == 4 * 160
    assert (sent[1].sequence - sent[0].sequence) % 65536 == 1
    assert media.stats().skipped_ticks == 3
    with wave.open(str(recorder.input_path)) as r_in, \
            wave.open(str(recorder.output_path)) as r_out:
        assert r_in.getnframes() == r_out.getnframes() == 5 * 160
