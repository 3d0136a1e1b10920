"""Media-plane benchmark: how many concurrent calls one CPU core carries.

Three processes on loopback:
  * the media plane, pinned to one core, on uvloop: N CallMedia instances sharing one
    FrameClock, each in echo mode through 8k -> 16k -> 8k resampling (the path STT input
    and TTS output take), i.e. RTP in -> jitter buffer -> decode -> resample up -> resample
    down -> crossfade/playout -> encode -> paced RTP out;
  * a load generator, pinned to another core: sends 20 ms µ-law RTP (a tone) per call on
    its own clock and receives what comes back;
  * this parent, which only coordinates.

Run: python -m bench.media_plane --calls 50 100 200 [--seconds 10]
     python -m bench.media_plane --find-max
Prints one JSON document; see bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import gc
import json
import multiprocessing as mp
import os
import resource
import select
import socket
import struct
import sys
import tempfile
import time
from datetime import datetime
from typing import Any

import numpy as np

from media.call_media import CallMedia
from media.clock import FrameClock
from media.codecs import ULawCodec
from media.echo import attach_echo
from media.recorder import CallRecorder

PERIOD = 0.020
SAMPLES = 160
FIND_MAX_STEPS = [50, 100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500]
SILENCE_ULAW = b"\xff" * SAMPLES
_RTP = struct.Struct("!BBHII")


def _pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


# -- media plane (server) --------------------------------------------------------------

def serve(conn: Any, calls: int, opts: dict[str, Any]) -> None:
    _pin(opts["server_cpu"])
    _raise_fd_limit()
    if opts["loop"] == "uvloop":
        import uvloop

        run = uvloop.run
    else:
        run = asyncio.run
    if opts["profile"]:
        import cProfile

        cProfile.runctx("run(_serve(conn, calls, opts))", globals(), locals(),
                        f"{opts['profile']}.{calls}")
    else:
        run(_serve(conn, calls, opts))


async def _serve(conn: Any, calls: int, opts: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    clock = FrameClock(slots=opts["slots"])
    record_dir = opts["record"]
    medias: list[CallMedia] = []
    for _ in range(calls):
        recorder = (CallRecorder(record_dir, datetime.now()) if record_dir else None)
        media = await CallMedia.open(ULawCodec(), clock, host="127.0.0.1", latch_remote=True,
                                     recorder=recorder,
                                     playout_prebuffer_ms=opts["prebuffer_ms"])
        attach_echo(media, via_rate=16000 if opts["resample"] else None,
                    block_ms=opts["block_ms"])
        medias.append(media)
    # calls begin at different moments, as real ones do: starting them all on one tick
    # would also line up their resamplers' ~100 ms processing bursts on the same ticks
    for media in medias:
        media.start()
        await asyncio.sleep(1.0 / calls)
    if opts["gc"] != "default":
        gc.collect()
        gc.freeze()  # long-lived setup objects leave the GC's generations
    if opts["gc"] == "off":
        gc.disable()
    conn.send([m.local_address[1] for m in medias])
    t0 = await loop.run_in_executor(None, conn.recv)
    window_start = t0 + opts["warmup"]
    window_end = window_start + opts["seconds"]

    def counters() -> dict[str, int]:
        total: dict[str, int] = {}
        for m in medias:
            for key, value in m.jitter.counters().items():
                total[key] = total.get(key, 0) + value
            total["concealed_frames"] = total.get("concealed_frames", 0) + m.concealed_frames
            total["skipped_ticks"] = total.get("skipped_ticks", 0) + m.skipped_ticks
        return total

    await asyncio.sleep(max(0.0, window_start - time.monotonic()))
    clock.stats.reset()
    before = counters()
    cpu0, wall0 = _cpu_seconds(), time.monotonic()
    await asyncio.sleep(max(0.0, window_end - time.monotonic()))
    cpu1, wall1 = _cpu_seconds(), time.monotonic()
    after = counters()
    stats = clock.stats
    result = {
        "cpu_seconds": cpu1 - cpu0,
        "wall_seconds": wall1 - wall0,
        "ticks": stats.ticks,
        "late_ticks": stats.late_ticks,
        "skipped_ticks": stats.skipped_ticks,
        "wakeups": stats.wakeups,
        "send_error_ms": stats.tick_error.summary_ms(),
        "wake_error_ms": stats.wake_error.summary_ms(),
        "media": {k: after[k] - before.get(k, 0) for k in after},
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }
    await asyncio.sleep(0.6)  # the generator stops sending; let its last echoes out
    for media in medias:
        await media.close()
    clock.stop()
    medias.clear()
    gc.unfreeze()
    conn.send(result)


# -- load generator (fake Asterisk) ----------------------------------------------------

def _tone_payload() -> bytes:
    t = np.arange(SAMPLES)
    pcm = (np.sin(2 * np.pi * 400 * t / 8000) * 8000).astype(np.int16).tobytes()
    return ULawCodec().encode(pcm)  # 400 Hz: exactly 8 periods per frame, so it loops


def generate(conn: Any, ports: list[int], t0: float, opts: dict[str, Any]) -> None:
    _pin(opts["generator_cpu"])
    _raise_fd_limit()
    n = len(ports)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for opt, size in ((socket.SO_RCVBUF, 8 << 20), (socket.SO_SNDBUF, 8 << 20)):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt + 32, size)  # *BUFFORCE, needs root
        except OSError:
            sock.setsockopt(socket.SOL_SOCKET, opt, size)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    poller = select.epoll()
    poller.register(sock.fileno(), select.EPOLLIN)

    payload = _tone_payload()
    dests = [("127.0.0.1", p) for p in ports]
    call_of_port = {p: i for i, p in enumerate(ports)}
    seq = [0] * n
    # calls are spread evenly over the period, as independent phones would be, and start
    # sending over the first second
    buckets: list[list[int]] = [[] for _ in range(20)]
    for i in range(n):
        buckets[i * 20 // n].append(i)
    first_period = [(i * 37) % 50 for i in range(n)]
    step = PERIOD / 20

    window_start = t0 + opts["warmup"]
    window_end = window_start + opts["seconds"]
    send_end = window_end + 0.2
    recv_end = send_end + 0.3
    rx_call = array.array("i")
    rx_ts = array.array("q")
    rx_at = array.array("d")
    audio_back = 0
    sent = 0
    send_late = array.array("d")
    cpu0 = _cpu_seconds()

    def receive() -> None:
        nonlocal audio_back
        while True:
            try:
                data, addr = sock.recvfrom(2048)
            except BlockingIOError:
                return
            now = time.monotonic()
            if window_start <= now < window_end and len(data) >= 12:
                _, _, _, ts, _ = _RTP.unpack_from(data)
                rx_call.append(call_of_port.get(addr[1], -1))
                rx_ts.append(ts)
                rx_at.append(now)
                if data[12:] != SILENCE_ULAW:
                    audio_back += 1

    k = b = 0
    deadline = t0
    while True:
        now = time.monotonic()
        if deadline <= now and deadline < send_end:
            for i in buckets[b]:
                if k < first_period[i]:
                    continue
                s = seq[i]
                sock.sendto(_RTP.pack(0x80, 0, s & 0xFFFF, (s * SAMPLES) & 0xFFFFFFFF, i + 1)
                            + payload, dests[i])
                seq[i] = s + 1
                sent += 1
            if window_start <= deadline < window_end and buckets[b]:
                send_late.append(time.monotonic() - deadline)
            b += 1
            if b == 20:
                b, k = 0, k + 1
            deadline = t0 + k * PERIOD + b * step
            continue
        if now >= recv_end:
            break
        wait = (deadline if deadline < send_end else recv_end) - now
        if poller.poll(max(0.0, wait)):
            receive()
    receive()
    cpu = _cpu_seconds() - cpu0

    calls = np.frombuffer(rx_call, dtype=np.int32)
    ts = np.frombuffer(rx_ts, dtype=np.int64)
    at = np.frombuffer(rx_at, dtype=np.float64)
    expected = received = 0
    deviations = []
    for i in range(n):
        mine = calls == i
        if not mine.any():
            expected += int(opts["seconds"] / PERIOD)
            continue
        t = np.unwrap(ts[mine].astype(np.float64), period=2.0**32)  # RTP timestamps wrap
        frames = np.round((t - t[0]) / SAMPLES).astype(np.int64)
        received += len(np.unique(frames))
        expected += int(frames.max() - frames.min()) + 1
        transit = at[mine] - frames * PERIOD
        deviations.append(transit - transit.min())
    dev = np.concatenate(deviations) * 1000 if deviations else np.zeros(1)
    late = np.frombuffer(send_late, dtype=np.float64) * 1000 if send_late else np.zeros(1)
    conn.send({
        "frames_sent": sent,
        "frames_expected": expected,
        "frames_received": received,
        "echo_audio_frames": audio_back,
        "arrival_jitter_ms": {"p50": round(float(np.percentile(dev, 50)), 3),
                              "p99": round(float(np.percentile(dev, 99)), 3),
                              "max": round(float(dev.max()), 3)},
        "generator_cpu_percent": round(100 * cpu / (recv_end - t0), 1),
        "generator_send_late_p99_ms": round(float(np.percentile(late, 99)), 3),
    })


# -- coordination ----------------------------------------------------------------------

def run_step(calls: int, opts: dict[str, Any]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    server_end, server_child = ctx.Pipe()
    server = ctx.Process(target=serve, args=(server_child, calls, opts), daemon=True)
    server.start()
    if not server_end.poll(120):
        server.kill()
        raise RuntimeError("media plane did not start")
    ports = server_end.recv()
    t0 = time.monotonic() + 1.0  # both sides start from the same monotonic instant
    gen_end, gen_child = ctx.Pipe()
    gen = ctx.Process(target=generate, args=(gen_child, ports, t0, opts), daemon=True)
    gen.start()
    server_end.send(t0)
    budget = opts["warmup"] + opts["seconds"] + 60
    if not (server_end.poll(budget) and gen_end.poll(budget)):
        server.kill()
        gen.kill()
        raise RuntimeError("benchmark step timed out")
    s, g = server_end.recv(), gen_end.recv()
    server.join(10)
    gen.join(10)

    cpu_pct = 100 * s["cpu_seconds"] / s["wall_seconds"]
    dropped = g["frames_expected"] - g["frames_received"]
    result = {
        "calls": calls,
        "seconds": round(s["wall_seconds"], 2),
        "cpu_percent_of_one_core": round(cpu_pct, 1),
        "cpu_ms_per_call_per_second": round(1000 * s["cpu_seconds"] / s["wall_seconds"] / calls,
                                            3),
        "send_error_ms": s["send_error_ms"],
        "wake_error_ms": s["wake_error_ms"],
        "late_ticks": s["late_ticks"],
        "skipped_ticks": s["skipped_ticks"],
        "ticks": s["ticks"],
        "frames_expected": g["frames_expected"],
        "frames_received": g["frames_received"],
        "frames_dropped": dropped,
        "echo_audio_frames": g["echo_audio_frames"],
        "jitter_late": s["media"]["late"],
        "jitter_lost": s["media"]["lost"],
        "jitter": s["media"],
        "far_end_arrival_jitter_ms": g["arrival_jitter_ms"],
        "generator_cpu_percent": g["generator_cpu_percent"],
        "generator_send_late_p99_ms": g["generator_send_late_p99_ms"],
        "server_maxrss_mb": s["maxrss_mb"],
    }
    p99 = s["send_error_ms"].get("p99", float("inf"))
    result["pass"] = bool(p99 < opts["p99_limit_ms"] and dropped == 0
                          and s["skipped_ticks"] == 0)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", action="extend",
                        help="concurrent calls per step (repeatable or a list)")
    parser.add_argument("--find-max", action="store_true",
                        help=f"step through {FIND_MAX_STEPS} until a step fails")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per step")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds before measuring (calls start during the first one)")
    parser.add_argument("--slots", type=int, default=20, help="FrameClock slots per period")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--no-resample", dest="resample", action="store_false",
                        help="echo at 8 kHz without the 16 kHz detour")
    parser.add_argument("--block-ms", type=int, default=20,
                        help="echo resamples blocks of this much audio (20 = every frame; "
                             "an STT feed would use ~100)")
    parser.add_argument("--prebuffer-ms", type=int, default=None,
                        help="Playout prebuffer; default 200 with resampling (soxr answers "
                             "20 ms chunks in ~100 ms bursts), else 0")
    parser.add_argument("--record", action="store_true",
                        help="record every call (two WAVs per call, in a temp dir)")
    parser.add_argument("--gc", choices=("freeze", "off", "default"), default="freeze",
                        help="freeze: gc.freeze() after set-up (default); off: also "
                             "gc.disable(); default: leave the collector alone")
    parser.add_argument("--p99-limit-ms", type=float, default=2.0)
    parser.add_argument("--profile", metavar="PATH",
                        help="cProfile the media plane into PATH.<calls> (slows it down)")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--generator-cpu", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.calls and not args.find_max:
        args.calls = [50, 100, 200]
    if args.prebuffer_ms is None:
        args.prebuffer_ms = 200 if args.resample else 0

    _raise_fd_limit()
    with contextlib.ExitStack() as stack:
        record = (stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-rec-"))
                  if args.record else None)
        opts = {key: getattr(args, key) for key in (
            "seconds", "warmup", "slots", "loop", "resample", "block_ms", "prebuffer_ms",
            "gc", "p99_limit_ms", "server_cpu", "generator_cpu", "profile")}
        opts["record"] = record
        steps = []
        for calls in (FIND_MAX_STEPS if args.find_max else args.calls):
            step = run_step(calls, opts)
            steps.append(step)
            print(json.dumps({k: step[k] for k in (
                "calls", "cpu_percent_of_one_core", "send_error_ms", "frames_dropped",
                "skipped_ticks", "pass")}), file=sys.stderr, flush=True)
            if args.find_max and not step["pass"]:
                break
    report: dict[str, Any] = {
        "benchmark": "media_plane",
        "config": {k: v for k, v in opts.items() if k != "record"} | {"record": bool(record)},
        "steps": steps,
    }
    if args.find_max:
        passing = [s["calls"] for s in steps if s["pass"]]
        report["max_calls_passing"] = max(passing) if passing else 0
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
