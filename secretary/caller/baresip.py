"""A real SIP caller on loopback: baresip (Debian's baresip-core 1.0) speaking WAV files and
recording what it hears (FINDINGS.md §2).

- `SipCaller` plays one WAV for a fixed time (media checks in tests).
- `BaresipPhone` is a live call driven over baresip's ctrl_tcp module (netstring-framed
  JSON): dial, switch what the caller says mid-call (`ausrc aufile,<wav>`; aufile loads the
  whole file and plays it from the start), hang up; call events say when the call was
  answered or ended, and why.

Module sndfile writes `dump-*-enc.wav` (what the caller sent) and `dump-*-dec.wav` (what it
heard) while the call runs. `GrowingWav` reads them as they grow: only the data after the
`data` chunk header counts, since the header's sizes are final only once the file is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import struct
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

MODULE_DIR = Path("/usr/lib/baresip/modules")
RATE = 8000


class BaresipError(RuntimeError):
    """baresip is missing, would not start, or stopped answering its control socket."""


class CallFailed(RuntimeError):
    """The call was refused, never answered, or could not be placed."""


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """16-bit mono PCM; float samples are int16-scaled and clipped."""
    pcm = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A finished 16-bit PCM WAV as float samples (channels averaged) and its rate."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
        if wav.getnchannels() > 1:
            data = data.reshape(-1, wav.getnchannels()).mean(axis=1)
        return data, wav.getframerate()


class GrowingWav:
    """A 16-bit PCM WAV file that another process is still writing; `read_new` picks up
    whatever whole samples were appended since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rate = 0
        self.channels = 0
        self._pos: int | None = None  # file offset of the next unread byte, once the header is in
        self._carry = b""
        self._parts: list[np.ndarray] = []
        self._length = 0
        self._joined: np.ndarray | None = None

    def __len__(self) -> int:
        return self._length

    @property
    def samples(self) -> np.ndarray:
        """Everything read so far, as int16-scaled floats."""
        if self._joined is None or len(self._joined) != self._length:
            self._joined = np.concatenate(self._parts) if self._parts else np.zeros(0)
            self._parts = [self._joined] if self._length else []
        return self._joined

    def read_new(self) -> int:
        """Read what was appended; returns how many samples were added."""
        try:
            with self.path.open("rb") as f:
                if self._pos is None and not self._read_header(f):
                    return 0
                assert self._pos is not None
                f.seek(self._pos)
                data = self._carry + f.read()
        except FileNotFoundError:
            return 0
        self._pos += len(data) - len(self._carry)
        frame = 2 * self.channels
        whole = len(data) - len(data) % frame
        self._carry = data[whole:]
        if whole == 0:
            return 0
        block = np.frombuffer(data[:whole], dtype="<i2").astype(np.float64)
        if self.channels > 1:
            block = block.reshape(-1, self.channels).mean(axis=1)
        self._parts.append(block)
        self._length += len(block)
        return len(block)

    def _read_header(self, f: BinaryIO) -> bool:
        head = f.read(12)
        if len(head) < 12:
            return False
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{self.path} is not a WAV file")
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return False  # header still being written
            kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"data":
                if not self.rate:
                    raise ValueError(f"{self.path}: data before fmt")
                self._pos = f.tell()
                return True
            body = f.read(size + (size & 1))
            if len(body) < size:
                return False
            if kind == b"fmt ":
                fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
                if fmt not in (1, 0xFFFE) or bits != 16:
                    raise ValueError(f"{self.path}: expected 16-bit PCM, got format {fmt}, "
                                     f"{bits} bits")
                self.rate, self.channels = rate, channels


def read_dump(path: Path) -> tuple[np.ndarray, int]:
    """A baresip dump, finished or not (its header may still be provisional)."""
    dump = GrowingWav(path)
    dump.read_new()
    return dump.samples, dump.rate or RATE


def config_text(workdir: Path, audio_source: Path, ctrl_port: int | None,
                module_dir: Path = MODULE_DIR, sip_port: int | None = None, *,
                local_ip: str = "127.0.0.1", extra_modules: Sequence[str] = ()) -> str:
    """baresip's `config` for a headless phone on loopback (sip_port: a fixed one, for a
    phone others call; default: any free port). `local_ip`: another loopback address, for
    a phone posing as a trunk; `extra_modules`: e.g. srtp.so, g722.so."""
    lines = [
        "poll_method epoll",
        f"sip_listen {local_ip}:{sip_port or free_udp_port(local_ip)}",
        # "lo" fails with "could not get IPv4 address" (FINDINGS.md §2)
        f"net_interface {local_ip}",
        f"audio_source aufile,{audio_source}",
        # No sound card: sndfile's dump is the ear. The player must still pace itself:
        # ALSA's "null" device never blocks, so baresip's player thread spun a whole core.
        "audio_player aubridge,ear",
        "audio_alert aubridge,alert",
        f"audio_srate {RATE}",
        f"ausrc_srate {RATE}",
        f"auplay_srate {RATE}",
        "rtp_ports 30000-39999",
        f"module_path {module_dir}",
        "module g711.so",
        *(f"module {module}" for module in extra_modules),
        "module aufile.so",
        "module aubridge.so",
        "module sndfile.so",
        f"snd_path {workdir}",
        "module_app account.so",
        "module_app menu.so",
    ]
    if ctrl_port is not None:
        lines += ["module_app ctrl_tcp.so", f"ctrl_tcp_listen 127.0.0.1:{ctrl_port}"]
    return "\n".join([*lines, ""])


def prepare_workdir(workdir: Path, user: str, audio_source: Path, ctrl_port: int | None,
                    module_dir: Path, *, local_ip: str = "127.0.0.1",
                    account_params: str = "audio_codecs=PCMU", transport: str | None = None,
                    extra_modules: Sequence[str] = ()) -> None:
    """A baresip config folder: `config` and one account (`<sip:user@local_ip>` with
    `account_params`, e.g. `audio_codecs=G722;mediaenc=srtp-mand`)."""
    if shutil.which("baresip") is None:
        raise BaresipError("baresip is not installed (scripts/bootstrap.sh installs it: "
                           "apt-get install --no-install-recommends baresip-core)")
    if "," in str(audio_source):
        raise ValueError(f"{audio_source}: baresip cannot take a path with a comma")
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("dump-*.wav"):  # a dump from an earlier call would be read instead
        old.unlink()
    (workdir / "config").write_text(config_text(workdir, audio_source, ctrl_port, module_dir,
                                                local_ip=local_ip,
                                                extra_modules=extra_modules))
    uri_params = f";transport={transport}" if transport else ""
    (workdir / "accounts").write_text(
        f"<sip:{user}@{local_ip}{uri_params}>;regint=0;{account_params}\n")


def _log_tail(workdir: Path, chars: int = 3000) -> str:
    path = workdir / "baresip.log"
    if not path.exists():
        return "(no log)"
    # The status line redraws with carriage returns; keep the log readable.
    return path.read_text(errors="replace").replace("\r", "\n")[-chars:]


def _latest_dump(workdir: Path, kind: str) -> Path | None:
    dumps = sorted(workdir.glob(f"dump-*-{kind}.wav"))
    return dumps[-1] if dumps else None


@dataclass
class SipCaller:
    """One baresip process that dials `target`, speaks a WAV and records what it hears."""

    workdir: Path
    speak_wav: Path
    target: str  # e.g. sip:100@127.0.0.1:15060
    user: str = "tester"
    seconds: float = 10.0
    module_dir: Path = MODULE_DIR
    local_ip: str = "127.0.0.1"  # SIP and RTP leave from here
    account_params: str = "audio_codecs=PCMU"
    transport: str | None = None  # e.g. "tls"
    extra_modules: tuple[str, ...] = ()
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    async def start(self) -> None:
        prepare_workdir(self.workdir, self.user, self.speak_wav, None, self.module_dir,
                        local_ip=self.local_ip, account_params=self.account_params,
                        transport=self.transport, extra_modules=self.extra_modules)
        self.process = await asyncio.create_subprocess_exec(
            "baresip", "-4", "-f", str(self.workdir), "-t", str(int(self.seconds)),
            "-e", f"/dial {self.target}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=(self.workdir / "baresip.log").open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )

    async def wait(self) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), self.seconds + 15)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    async def hang_up_now(self) -> None:
        """End the call from the caller's side by stopping baresip."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def heard(self) -> tuple[np.ndarray, int]:
        """What the caller heard (decoded audio) as float samples and rate."""
        return self._dump("dec")

    def sent(self) -> tuple[np.ndarray, int]:
        """What the caller sent; sample i here is about sample i of `heard()` (the heard
        dump starts with the first packet received, typically within 100 ms)."""
        return self._dump("enc")

    def _dump(self, kind: str) -> tuple[np.ndarray, int]:
        path = _latest_dump(self.workdir, kind)
        if path is None:
            raise AssertionError(f"baresip recorded nothing in {self.workdir}; its log:\n"
                                 f"{_log_tail(self.workdir)}")
        return read_dump(path)


@dataclass(frozen=True)
class ClockSample:
    """Both dumps' lengths read at (about) the same moment."""

    sent: int
    heard: int


class BaresipPhone:
    """A live baresip call: dial, say WAVs one after another, hang up, read both recordings
    while the call runs.

    What the caller says starts as `idle_wav` (make it silence at least as long as the call)
    and changes with each `say`. Both recordings run on the caller's own clock, but the
    heard one starts at the first packet received; `poll` notes both lengths each time so
    `heard_to_sent` can put a moment of the heard recording on the sent recording's clock.
    """

    def __init__(self, workdir: Path, idle_wav: Path, *, user: str = "tester",
                 module_dir: Path = MODULE_DIR) -> None:
        self.workdir = workdir
        self.idle_wav = idle_wav
        self.user = user
        self.module_dir = module_dir
        self.established = asyncio.Event()
        self.ended = asyncio.Event()
        self.end_reason: str | None = None
        self.events: list[dict] = []
        self.heard: GrowingWav | None = None
        self.sent: GrowingWav | None = None
        self.clock: list[ClockSample] = []
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict]] = {}
        self._token = 0

    async def __aenter__(self) -> BaresipPhone:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, timeout_s: float = 10.0) -> None:
        """Start baresip and connect to its control socket."""
        port = free_tcp_port()
        prepare_workdir(self.workdir, self.user, self.idle_wav, port, self.module_dir)
        self._process = await asyncio.create_subprocess_exec(
            "baresip", "-4", "-f", str(self.workdir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=(self.workdir / "baresip.log").open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if self._process.returncode is not None:
                raise BaresipError(f"baresip exited ({self._process.returncode}) at start:\n"
                                   f"{_log_tail(self.workdir)}")
            try:
                reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                if loop.time() > deadline:
                    await self.close()
                    raise BaresipError(f"baresip's control socket never opened:\n"
                                       f"{_log_tail(self.workdir)}") from None
                await asyncio.sleep(0.05)
        self._reader_task = asyncio.create_task(self._read_messages(reader))

    async def command(self, name: str, params: str = "", timeout_s: float = 5.0) -> str:
        """Run one baresip command; returns its text answer."""
        if self._writer is None or self._writer.is_closing():
            raise BaresipError("baresip's control socket is closed")
        self._token += 1
        token = str(self._token)
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._pending[token] = future
        body = json.dumps({"command": name, "params": params, "token": token}).encode()
        self._writer.write(b"%d:%s," % (len(body), body))
        try:
            await self._writer.drain()
            answer = await asyncio.wait_for(future, timeout_s)
        except (TimeoutError, ConnectionError) as exc:
            raise BaresipError(f"baresip did not answer {name!r}: {exc!r}") from exc
        finally:
            self._pending.pop(token, None)
        if not answer.get("ok", False):
            raise BaresipError(f"baresip refused {name} {params!r}: {answer.get('data')!r}")
        return str(answer.get("data", ""))

    async def dial(self, target: str, answer_timeout_s: float = 15.0) -> None:
        """Call `target`; returns once answered. Raises CallFailed when it is refused or
        not answered in time (the attempt is then hung up)."""
        await self.command("dial", target)
        answered = asyncio.create_task(self.established.wait())
        ended = asyncio.create_task(self.ended.wait())
        try:
            await asyncio.wait({answered, ended}, timeout=answer_timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            ended.cancel()
        if self.established.is_set():
            return
        if self.ended.is_set():
            raise CallFailed(f"{target} did not take the call: {self.end_reason}")
        with contextlib.suppress(BaresipError):
            await self.command("hangup")
        raise CallFailed(f"no answer from {target} within {answer_timeout_s:g} s (nothing "
                         "answers SIP there, or it kept ringing)")

    async def say(self, wav: Path) -> None:
        """From now on the caller says `wav` (8 kHz 16-bit mono), from its start."""
        if "," in str(wav):
            raise ValueError(f"{wav}: baresip cannot take a path with a comma")
        await self.command("ausrc", f"aufile,{wav}")

    async def hang_up(self, timeout_s: float = 3.0) -> None:
        if self.ended.is_set() or not self.established.is_set():
            return
        with contextlib.suppress(BaresipError):
            await self.command("hangup")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), timeout_s)

    async def close(self) -> None:
        """Hang up if needed, quit baresip and wait for it."""
        if self._writer is not None and not self._writer.is_closing():
            await self.hang_up()
            with contextlib.suppress(BaresipError):
                await self.command("quit", timeout_s=2.0)
        process = self._process
        if process is not None and process.returncode is None:
            # After an unanswered attempt baresip lingers on its SIP transactions (and
            # again on SIGTERM); nothing of ours is left to save by then.
            for stop, grace in ((None, 3.0), (process.terminate, 1.0), (process.kill, None)):
                if stop is not None:
                    stop()
                try:
                    await asyncio.wait_for(process.wait(), grace)
                    break
                except TimeoutError:
                    continue
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        if self._writer is not None:
            self._writer.close()
        self.poll()  # whatever was written last

    def log_tail(self, chars: int = 3000) -> str:
        return _log_tail(self.workdir, chars)

    # -- the recordings ------------------------------------------------------------------

    def poll(self) -> None:
        """Read what both recordings gained and note their lengths for the clock."""
        if self.sent is None or self.heard is None:
            sent, heard = _latest_dump(self.workdir, "enc"), _latest_dump(self.workdir, "dec")
            if sent is None or heard is None:
                return  # not answered yet: sndfile opens both when audio starts
            self.sent, self.heard = GrowingWav(sent), GrowingWav(heard)
        self.sent.read_new()
        self.heard.read_new()
        if len(self.heard):
            self.clock.append(ClockSample(len(self.sent), len(self.heard)))

    def heard_samples(self) -> np.ndarray:
        return self.heard.samples if self.heard is not None else np.zeros(0)

    def sent_samples(self) -> np.ndarray:
        return self.sent.samples if self.sent is not None else np.zeros(0)

    def heard_offset(self, around: int | None = None, window: int = 2 * RATE) -> int:
        """Samples to add to a heard-recording position to get the sent-recording position
        of the same moment: the median gap between their lengths, over the polls within
        `window` of `around` (all polls when none are that close)."""
        if not self.clock:
            return 0
        near = [c for c in self.clock if around is None or abs(c.heard - around) <= window]
        gaps = [c.sent - c.heard for c in (near or self.clock)]
        return int(np.median(gaps))

    def heard_to_sent(self, heard_s: float) -> float:
        return heard_s + self.heard_offset(int(heard_s * RATE)) / RATE

    def sent_to_heard(self, sent_s: float) -> float:
        return sent_s - self.heard_offset(int(sent_s * RATE)) / RATE

    # -- control socket ------------------------------------------------------------------

    async def _read_messages(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = await reader.readuntil(b":")
                payload = await reader.readexactly(int(size[:-1]) + 1)  # data and ","
                try:
                    message = json.loads(payload[:-1])
                except ValueError:
                    continue
                if message.get("response"):
                    future = self._pending.get(str(message.get("token")))
                    if future is not None and not future.done():
                        future.set_result(message)
                elif message.get("event"):
                    self._on_event(message)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            # baresip is gone: no call can go on, no command will be answered.
            if not self.ended.is_set():
                self.end_reason = self.end_reason or "baresip stopped"
                self.ended.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("baresip closed its control socket"))

    def _on_event(self, event: dict) -> None:
        self.events.append(event)
        kind = event.get("type")
        if kind == "CALL_ESTABLISHED":
            self.established.set()
        elif kind == "CALL_CLOSED":
            self.end_reason = str(event.get("param") or "closed")
            self.ended.set()
