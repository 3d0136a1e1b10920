"""Line benchmark: reply latency and barge-in on the two lines Asterisk does not carry,
Twilio Media Streams and the GSM modem, measured from the far end as bench/call_latency.py
does for SIP.

It starts the real secretary (`python -m secretary app`: the console on a free loopback
port, no Asterisk: ARI points at a closed port and is retried in the background) with the
Twilio line and/or the GSM line on, waits for its "secretary listening" line (models
loaded, stock phrases pre-synthesised) and then plays the other end:

- twilio: a POST /twilio/voice signed with `twilio.request_validator`, the TwiML's
  `<Stream url>` and `<Parameter>`s, the websocket (`connected`, `start` with the stream
  token), then 20 ms µ-law `media` both ways, paced (tests/twilio/stream_client.py);
- gsm: the SIM7600 simulator (tests/gsm/sim7600.py) on two pseudo-terminals in this
  process, whose paths the secretary's driver opens as its AT and PCM ports: RING with
  +CLIP, then 8 kHz 16-bit PCM at the modem's 20 ms pace.

Each call: the greeting, K questions (Piper, the SIP bench's caller voice, trimmed to the
speech; each asked once the previous reply has been quiet for --quiet s), then the barge-in
line spoken --barge-in-after s into the reply to --barge-in-question. Latency is the end of
the question's audio (its last frame sent) -> the first reply frame received with sound in
it (20 ms frame RMS over the SIP bench's detector floor); greeting: answer (Twilio: `start`
sent; GSM: ATA) -> first sound; barge-in: the caller's first frame of speech -> `clear`
(Twilio) and -> the last frame of sound before 300 ms of quiet (both lines).

Run: python -m bench.line_latency [--line twilio|gsm|both] [--calls 3] [--questions 3]
Prints one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import contextlib
import itertools
import json
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from twilio.request_validator import RequestValidator

from bench.call_latency import QUESTIONS, spread
from bench.measure import rss_mb
from media.codecs import ULawCodec
from secretary import speech
from secretary.caller.analysis import DEFAULT_DETECTOR, frame_rms
from secretary.caller.baresip import free_tcp_port
from secretary.caller.script import CALLER_VOICE, to_line_rate
from secretary.settings import PROJECT_ROOT, Settings, load_settings
from tests.gsm.sim7600 import FRAME_BYTES, Sim7600Simulator
from tests.twilio.stream_client import SILENCE, StreamClient, parse_stream_twiml
from voices.base import collect_audio
from voices.chain import VoiceSynthesizer

HOST = "127.0.0.1"
RATE = 8000
ONSET_RMS = DEFAULT_DETECTOR.floor  # int16 RMS of a frame that has sound in it (as SIP's)
STOPPED_QUIET_S = 0.3  # barge-in: the secretary has stopped once this much quiet follows
BARGE_IN_STOP_NOTE = ("the last frame with sound before 300 ms of quiet: a pause between "
                      "words of the reply right after the caller starts reads as the stop, "
                      "so values under ~60 ms (the onset detector's own debounce) are such "
                      "a pause, after which the reply did not resume")
READY_LINE = "secretary listening"  # logged once the calls' models and phrases are ready
POLL_S = 0.02  # waiting only; every time measured is stamped where the frame was handled
SILENT_PAYLOAD = base64.b64encode(SILENCE).decode()
TWILIO_CALLER = "+15551230001"
GSM_CALLER = "+79161234567"
ULAW = ULawCodec()


class CallError(RuntimeError):
    """This call could not be set up or went wrong; the benchmark goes on."""


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def loud(pcm16: bytes) -> bool:
    x = np.frombuffer(pcm16, dtype="<i2").astype(np.float64)
    return bool(len(x)) and float(np.sqrt(np.mean(x * x))) > ONSET_RMS


# ---- the caller's speech ---------------------------------------------------------------


def trimmed(pcm: np.ndarray) -> np.ndarray:
    """The phrase from its first to its last 10 ms of sound: its end is the end of speech."""
    size = RATE // 100
    sound = np.flatnonzero(frame_rms(pcm, RATE, 10) > ONSET_RMS)
    return pcm if not len(sound) else pcm[sound[0] * size:(sound[-1] + 1) * size]


async def synthesise(settings: Settings, texts: list[str]) -> dict[str, bytes]:
    """Each text in the caller's voice as 8 kHz 16-bit PCM (before the secretary starts,
    so that its CPU is not shared)."""
    engines = speech.build_tts(settings)
    try:
        voice = VoiceSynthesizer(CALLER_VOICE, engines)
        out: dict[str, bytes] = {}
        for text in dict.fromkeys(texts):
            audio = await collect_audio(voice.stream(text))
            pcm = to_line_rate(np.frombuffer(audio.pcm16, dtype="<i2").astype(np.float32),
                               audio.sample_rate)
            out[text] = np.clip(trimmed(pcm), -32768, 32767).astype("<i2").tobytes()
        return out
    finally:
        engines.close()


# ---- the far end of a line -------------------------------------------------------------


class FarEnd:
    """One call as the far end has it: it speaks PCM and stamps each frame with sound it
    receives (loop time, ascending)."""

    has_clear = False

    def __init__(self) -> None:
        self.voiced: list[float] = []

    def collect(self) -> None:
        """Take in the frames received since the last call."""
        raise NotImplementedError

    async def say(self, pcm16: bytes) -> float:
        """Speak `pcm16` at the line's pace; return when its last frame went out."""
        raise NotImplementedError

    async def start_talking(self, pcm16: bytes) -> float:
        """Start speaking `pcm16`; return when its first frame went out."""
        raise NotImplementedError

    async def said(self) -> None:
        """Wait until what `start_talking` began has all gone out."""
        raise NotImplementedError

    def clear_after(self, t: float) -> float | None:
        return None

    def voiced_after(self, t: float) -> list[float]:
        self.collect()
        return self.voiced[bisect.bisect_right(self.voiced, t):]


class TwilioCaller(StreamClient):
    """The tests' Media Streams client, noting when each frame with speech is sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent_speech: list[float] = []

    async def send(self, message: dict[str, Any]) -> None:
        if message.get("event") == "media" and message["media"]["payload"] != SILENT_PAYLOAD:
            self.sent_speech.append(asyncio.get_running_loop().time())
        await super().send(message)


class TwilioFarEnd(FarEnd):
    has_clear = True

    def __init__(self, client: TwilioCaller) -> None:
        super().__init__()
        self.client = client
        self._seen = 0
        self._talking: asyncio.Task[float] | None = None

    def collect(self) -> None:
        received = self.client.received
        for r in received[self._seen:]:
            if r.message.get("event") == "media" and r.rms > ONSET_RMS:
                self.voiced.append(r.at)
        self._seen = len(received)

    async def say(self, pcm16: bytes) -> float:
        return await self.client.say(ULAW.encode(pcm16))

    async def start_talking(self, pcm16: bytes) -> float:
        queued = asyncio.get_running_loop().time()
        sent = self.client.sent_speech
        self._talking = asyncio.create_task(self.client.say(ULAW.encode(pcm16)))
        await wait_until(lambda: bool(sent) and sent[-1] >= queued, 2.0,
                         "the caller's speech was not sent")
        return sent[bisect.bisect_left(sent, queued)]

    async def said(self) -> None:
        if self._talking is not None:
            await self._talking

    def clear_after(self, t: float) -> float | None:
        return next((r.at for r in self.client.events("clear") if r.at > t), None)


class PlayQueue(bytearray):
    """The simulator's play queue, noting when its clock takes the first and the last frame
    of what was queued (the simulator deletes each frame from here as it writes it)."""

    def __init__(self) -> None:
        super().__init__()
        self.first_taken_at: float | None = None
        self.drained_at: float | None = None
        self._fresh = False

    def queue(self, pcm16: bytes) -> None:
        self.first_taken_at = self.drained_at = None
        self._fresh = True
        self.extend(pcm16)

    def __delitem__(self, key: Any) -> None:
        had = len(self)
        super().__delitem__(key)
        if had:
            now = time.monotonic()  # the default event loop's clock
            if self._fresh:
                self.first_taken_at, self._fresh = now, False
            if not self:
                self.drained_at = now


class TimedSimulator(Sim7600Simulator):
    """The tests' SIM7600 simulator, stamping when ATA came and when PCM arrived."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.queue = PlayQueue()
        self.play_queue = self.queue
        self.answered_at: float | None = None
        self.arrival_times: list[float] = []
        self.arrival_ends: list[int] = []  # received_pcm's length after each arrival

    def _command(self, line: str) -> None:
        if line.upper() == "ATA" and self.state.call == "ringing":
            self.answered_at = time.monotonic()
        super()._command(line)

    def _on_pcm(self) -> None:
        before = len(self.received_pcm)
        super()._on_pcm()
        if len(self.received_pcm) > before:
            self.arrival_times.append(time.monotonic())
            self.arrival_ends.append(len(self.received_pcm))


class GsmFarEnd(FarEnd):
    def __init__(self, sim: TimedSimulator) -> None:
        super().__init__()
        self.sim = sim
        self._scanned = len(sim.received_pcm) // FRAME_BYTES * FRAME_BYTES

    def collect(self) -> None:
        sim = self.sim
        end = len(sim.received_pcm) // FRAME_BYTES * FRAME_BYTES
        while self._scanned < end:
            frame = bytes(sim.received_pcm[self._scanned:self._scanned + FRAME_BYTES])
            self._scanned += FRAME_BYTES
            if loud(frame):  # stamped with the arrival that completed the frame
                i = bisect.bisect_left(sim.arrival_ends, self._scanned)
                self.voiced.append(sim.arrival_times[i])

    async def say(self, pcm16: bytes) -> float:
        self.sim.queue.queue(pcm16)
        await wait_until(lambda: self.sim.queue.drained_at is not None,
                         len(pcm16) / 2 / RATE + 5, "the modem did not play the question")
        assert self.sim.queue.drained_at is not None
        return self.sim.queue.drained_at

    async def start_talking(self, pcm16: bytes) -> float:
        self.sim.queue.queue(pcm16)
        await wait_until(lambda: self.sim.queue.first_taken_at is not None, 2.0,
                         "the modem did not start playing")
        assert self.sim.queue.first_taken_at is not None
        return self.sim.queue.first_taken_at

    async def said(self) -> None:
        await wait_until(lambda: self.sim.queue.drained_at is not None, 30.0,
                         "the modem did not play the line")


# ---- one conversation, whatever the line -----------------------------------------------


async def wait_until(condition: Any, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise CallError(f"{what} (within {within_s:g} s)")
        await asyncio.sleep(POLL_S)


async def first_sound(far: FarEnd, t: float, within_s: float, what: str) -> float:
    await wait_until(lambda: bool(far.voiced_after(t)), within_s, what)
    return far.voiced_after(t)[0]


def _quiet_from(voiced: list[float], since: float, quiet_s: float, now: float) -> float | None:
    """The last frame with sound before the first `quiet_s` of quiet after `since` (`since`
    itself when nothing was heard after it); None while that has not happened yet."""
    edges = [since, *voiced]
    for a, b in itertools.pairwise(edges):
        if b - a > quiet_s:
            return a
    return edges[-1] if now - edges[-1] > quiet_s else None


async def until_quiet(far: FarEnd, since: float, quiet_s: float, within_s: float) -> float:
    deadline = time.monotonic() + within_s
    while (stop := _quiet_from(far.voiced_after(since), since, quiet_s,
                               time.monotonic())) is None:
        if time.monotonic() > deadline:
            raise CallError(f"the secretary did not fall quiet within {within_s:g} s")
        await asyncio.sleep(POLL_S)
    return stop


@dataclass
class Plan:
    questions: list[str]
    barge_question: str | None
    barge_line: str
    barge_after_s: float
    quiet_s: float
    reply_within_s: float


@dataclass
class CallResult:
    greeting_ms: float | None = None
    latency_ms: list[float] = field(default_factory=list)
    barge_in_ms: float | None = None  # caller's speech -> `clear` (Twilio)
    barge_in_stop_ms: float | None = None  # caller's speech -> the secretary's sound stopped
    error: str | None = None


async def converse(far: FarEnd, answered_at: float, phrases: dict[str, bytes], plan: Plan,
                   result: CallResult) -> None:
    within = plan.reply_within_s
    greeting = await first_sound(far, answered_at, within, "no greeting")
    result.greeting_ms = ms(greeting - answered_at)
    await until_quiet(far, greeting, plan.quiet_s, within)
    for question in plan.questions:
        asked = await far.say(phrases[question])
        reply = await first_sound(far, asked, within, f"no reply to {question!r}")
        result.latency_ms.append(ms(reply - asked))
        await until_quiet(far, reply, plan.quiet_s, within)
    if plan.barge_question is None:
        return
    asked = await far.say(phrases[plan.barge_question])
    reply = await first_sound(far, asked, within, f"no reply to {plan.barge_question!r}")
    await asyncio.sleep(max(0.0, reply + plan.barge_after_s - time.monotonic()))
    if not far.voiced_after(time.monotonic() - 1.0):  # no sound for a second: it is over
        raise CallError(f"the reply to {plan.barge_question!r} ended before the barge-in")
    talking = await far.start_talking(phrases[plan.barge_line])
    stopped = await until_quiet(far, talking, STOPPED_QUIET_S, 10.0)
    result.barge_in_stop_ms = ms(stopped - talking)
    if far.has_clear:
        await wait_until(lambda: far.clear_after(talking) is not None, 10.0,
                         "no `clear` after the barge-in")
        cleared = far.clear_after(talking)
        assert cleared is not None
        result.barge_in_ms = ms(cleared - talking)
    await far.said()


# ---- the lines -------------------------------------------------------------------------


@dataclass(frozen=True)
class TwilioAccount:
    base_url: str  # the console, http://127.0.0.1:port
    account_sid: str
    auth_token: str


async def twilio_call(session: aiohttp.ClientSession, account: TwilioAccount,
                      phrases: dict[str, bytes], plan: Plan, result: CallResult) -> None:
    call_sid = "CA" + secrets.token_hex(16)
    url = f"{account.base_url}/twilio/voice"
    params = {"CallSid": call_sid, "AccountSid": account.account_sid, "From": TWILIO_CALLER,
              "To": "+15550000000", "CallStatus": "ringing", "Direction": "inbound"}
    signature = RequestValidator(account.auth_token).compute_signature(url, params)
    async with asyncio.timeout(30), session.post(
            url, data=params, headers={"X-Twilio-Signature": signature}) as response:
        twiml = await response.text()
        if response.status != 200:
            raise CallError(f"/twilio/voice answered {response.status}: {twiml[:200]}")
    try:
        stream_url, parameters = parse_stream_twiml(twiml)
    except (AssertionError, AttributeError, KeyError, ET.ParseError):
        raise CallError(f"the TwiML connects no stream: {twiml[:300]}") from None
    async with asyncio.timeout(30):
        ws = await session.ws_connect(stream_url,
                                      timeout=aiohttp.ClientWSTimeout(ws_close=5))
    client = TwilioCaller(ws, "MZ" + secrets.token_hex(16), call_sid)
    try:
        await client.connect_and_start(parameters, account_sid=account.account_sid)
        answered_at = asyncio.get_running_loop().time()
        client.start_media()
        await converse(TwilioFarEnd(client), answered_at, phrases, plan, result)
    finally:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await client.stop()
        await client.close()


async def gsm_call(sim: TimedSimulator, phrases: dict[str, bytes], plan: Plan,
                   result: CallResult) -> None:
    far = GsmFarEnd(sim)  # reads the PCM port from here on
    for attempt in range(4):  # the line is free once the last call's wrap-up is done
        sim.answered_at = None
        sim.ring(GSM_CALLER)
        with contextlib.suppress(CallError):
            await wait_until(lambda: sim.state.call == "active" and sim.state.pcmreg, 8.0,
                             "not answered")
            break
        sim.remote_hang_up()
        if attempt == 3:
            raise CallError("the secretary did not answer the modem's call (4 rings)")
        await asyncio.sleep(2.0)
    assert sim.answered_at is not None
    try:
        await converse(far, sim.answered_at, phrases, plan, result)
    finally:
        sim.remote_hang_up()
        sim.queue.clear()


# ---- the secretary ---------------------------------------------------------------------


class SecretaryProcess:
    """`python -m secretary app` with the given settings in its environment."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.log_path = workdir / "secretary.log"
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, timeout_s: float) -> float:
        """Start it and wait until it is listening; return how long that took (s)."""
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "secretary", "app", cwd=PROJECT_ROOT,
                env={**os.environ, **self.env}, stdin=asyncio.subprocess.DEVNULL,
                stdout=log, stderr=asyncio.subprocess.STDOUT)
        while READY_LINE not in self.log_text():
            if self.process.returncode is not None:
                raise CallError(f"the secretary exited ({self.process.returncode}):\n"
                                f"{self.log_text()[-3000:]}")
            if time.monotonic() - started > timeout_s:
                raise CallError(f"the secretary was not ready within {timeout_s:g} s:\n"
                                f"{self.log_text()[-3000:]}")
            await asyncio.sleep(0.2)
        return time.monotonic() - started

    async def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


def secretary_env(args: argparse.Namespace, workdir: Path, web_port: int,
                  account: TwilioAccount | None, sim: TimedSimulator | None) -> dict[str, str]:
    env = {
        "SECRETARY_CALLS_LOG_DIR": str(workdir / "calls_log"),  # its database goes there too
        "SECRETARY_LOG_LEVEL": "INFO",  # READY_LINE is logged at INFO
        "SECRETARY_STT__LANGUAGE": args.language,
        "SECRETARY_WEB__ENABLED": "true",
        "SECRETARY_WEB__HOST": HOST,
        "SECRETARY_WEB__PORT": str(web_port),
        "SECRETARY_LLM__EMBEDDED_PORT": str(free_tcp_port()),
        "SECRETARY_TELEGRAM__ENABLED": "false",
        # no Asterisk here: ARI at a closed port, retried in the background
        "SECRETARY_ASTERISK__HTTP_PORT": str(free_tcp_port()),
        "SECRETARY_TWILIO__ENABLED": "true" if account else "false",
        "SECRETARY_GSM__ENABLED": "true" if sim else "false",
    }
    if account is not None:
        env |= {"SECRETARY_TWILIO__ACCOUNT_SID": account.account_sid,
                "SECRETARY_TWILIO__AUTH_TOKEN": account.auth_token,
                # the REST API (hang-up, transfer) at a closed port: nothing leaves the host
                "SECRETARY_TWILIO__API_BASE": f"http://{HOST}:{free_tcp_port()}"}
    if sim is not None:
        env |= {"SECRETARY_GSM__AT_PORT": str(sim.at_path),
                "SECRETARY_GSM__PCM_PORT": str(sim.pcm_path),
                "SECRETARY_GSM__CHANNEL_DRIVER": "none"}
    return env


# ---- running it ------------------------------------------------------------------------


def summarise(results: list[CallResult], errors: list[str], twilio: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "calls": len(results),
        "reply_latency_ms": spread([v for r in results for v in r.latency_ms]),
        "greeting_ms": spread([r.greeting_ms for r in results if r.greeting_ms is not None]),
    }
    if twilio:
        out["barge_in_ms"] = spread([r.barge_in_ms for r in results
                                     if r.barge_in_ms is not None])
    out["barge_in_stop_ms"] = spread([r.barge_in_stop_ms for r in results
                                      if r.barge_in_stop_ms is not None])
    out["barge_in_stop_note"] = BARGE_IN_STOP_NOTE
    out["errors"] = errors
    out["per_call"] = [{"greeting_ms": r.greeting_ms, "latency_ms": r.latency_ms,
                        "barge_in_ms": r.barge_in_ms, "barge_in_stop_ms": r.barge_in_stop_ms,
                        "error": r.error} for r in results]
    return out


async def measure_line(line: str, args: argparse.Namespace, phrases: dict[str, bytes],
                       plan: Plan, session: aiohttp.ClientSession,
                       account: TwilioAccount | None, sim: TimedSimulator | None
                       ) -> dict[str, Any]:
    warm = Plan(plan.questions[:1], None, plan.barge_line, 0, plan.quiet_s,
                plan.reply_within_s)
    results: list[CallResult] = []
    errors: list[str] = []
    for i in range(args.warmup + args.calls):
        warming = i < args.warmup
        result = CallResult()
        try:
            async with asyncio.timeout(args.timeout):
                if line == "twilio":
                    assert account is not None
                    await twilio_call(session, account, phrases, warm if warming else plan,
                                      result)
                else:
                    assert sim is not None
                    await gsm_call(sim, phrases, warm if warming else plan, result)
        except (CallError, TimeoutError, aiohttp.ClientError, OSError) as exc:
            result.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            errors.append(f"call {i + 1}{' (warm-up)' if warming else ''}: {result.error}")
        if not warming:
            results.append(result)
        print(f"{line} call {i + 1}/{args.warmup + args.calls}"
              f"{' (warm-up)' if warming else ''}: greeting {result.greeting_ms} ms, "
              f"latencies {result.latency_ms}, barge-in clear {result.barge_in_ms} / "
              f"stop {result.barge_in_stop_ms}{', ' + result.error if result.error else ''}",
              file=sys.stderr)
        await asyncio.sleep(args.pause)  # the secretary wraps the call up (row, recordings)
    return summarise(results, errors, twilio=line == "twilio")


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
            "platform": platform.platform(), "python": platform.python_version()}


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    lines = ["twilio", "gsm"] if args.line == "both" else [args.line]
    questions = [args.question[i % len(args.question)] for i in range(args.questions)]
    plan = Plan(questions, args.barge_in_question or None, args.barge_in_line,
                args.barge_in_after, args.quiet, args.reply_within)
    out: dict[str, Any] = {"machine": machine(), "process": "separate",
                           "language": args.language, "questions": questions,
                           "barge_in": {"question": plan.barge_question,
                                        "line": plan.barge_line,
                                        "after_s": plan.barge_after_s},
                           "calls_per_line": args.calls, "warmup_calls": args.warmup}
    phrases = await synthesise(load_settings(), [*questions, args.barge_in_line,
                                                 *([plan.barge_question]
                                                   if plan.barge_question else [])])
    web_port = free_tcp_port()
    account = TwilioAccount(f"http://{HOST}:{web_port}", "AC" + secrets.token_hex(16),
                            secrets.token_hex(16)) if "twilio" in lines else None
    sim: TimedSimulator | None = None
    secretary: SecretaryProcess | None = None
    try:
        if "gsm" in lines:
            (workdir / "modem").mkdir(parents=True, exist_ok=True)
            sim = await TimedSimulator(workdir / "modem").start()
        secretary = SecretaryProcess(workdir, secretary_env(args, workdir, web_port,
                                                            account, sim))
        out["secretary_ready_s"] = round(await secretary.start(args.start_timeout), 1)
        if sim is not None:  # the driver has set the modem up and polled its health
            await wait_until(lambda: "AT+COPS?" in sim.state.commands, 30.0,
                             "the GSM driver did not set the modem up")
        # no total timeout: a call's websocket lives for minutes; each step is bounded
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            for line in lines:
                out[line] = await measure_line(line, args, phrases, plan, session, account,
                                               sim)
        assert secretary.process is not None
        out["secretary_rss_mb"] = rss_mb(secretary.process.pid)
    finally:
        if secretary is not None:
            await secretary.stop()
        if sim is not None:
            await sim.close()
    return out


@contextlib.contextmanager
def work_folder(path: str | None) -> Iterator[Path]:
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path).resolve()
        return
    with tempfile.TemporaryDirectory(prefix="bench-line-") as folder:
        yield Path(folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--line", choices=["twilio", "gsm", "both"], default="both")
    parser.add_argument("--calls", type=int, default=3, help="measured calls per line")
    parser.add_argument("--questions", type=int, default=3, help="questions per call")
    parser.add_argument("--question", action="append", default=None,
                        help="a question to ask (repeatable; cycled); default: the FAQ "
                             "questions of bench.call_latency")
    parser.add_argument("--barge-in-question", default="What services do you offer?",
                        help="asked last; its reply is talked over ('' to skip barge-in)")
    parser.add_argument("--barge-in-line", default="Sorry, one more thing.")
    parser.add_argument("--barge-in-after", type=float, default=1.5,
                        help="seconds into the reply the caller starts talking over it")
    parser.add_argument("--language", default="en", choices=["en", "ru"],
                        help="the secretary's stt.language (the questions are English)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured one-question calls first, per line")
    parser.add_argument("--quiet", type=float, default=2.5,
                        help="seconds of quiet that end a reply")
    parser.add_argument("--reply-within", type=float, default=30.0,
                        help="seconds a reply (or the greeting) may take to begin")
    parser.add_argument("--timeout", type=float, default=180.0, help="per call, seconds")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds between calls")
    parser.add_argument("--start-timeout", type=float, default=300.0,
                        help="seconds the secretary may take to load its models")
    parser.add_argument("--workdir", default=None,
                        help="keep the secretary's log, database and recordings here "
                             "(default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    args.question = args.question or QUESTIONS
    with work_folder(args.workdir) as workdir:
        try:
            result = asyncio.run(run(args, workdir))
        except CallError as exc:  # the secretary would not start
            print(f"line_latency: {exc}", file=sys.stderr)
            return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 1 if any(result[line]["errors"] for line in ("twilio", "gsm") if line in result) \
        else 0


if __name__ == "__main__":
    sys.exit(main())
