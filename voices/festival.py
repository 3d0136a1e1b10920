"""Festival: the Russian CPU fallback that works offline (Debian `festival` + `festvox-ru`,
voice msu_ru_nsh_clunits, 16 kHz).

Festival takes about a second to start and load a voice, so it runs as one long-lived
`festival --server` per engine rather than a process per phrase. The server forks a child per
connection; we send, per clause, over its documented client protocol:

    <password>\\n (voice_X) (Parameter.set 'Wavefiletype 'riff) (tts_textall "<text>" "nil")

and read replies framed as `WV\\n<RIFF bytes>ft_StUfF_key` (a waveform),
`LP\\n<s-expression>ft_StUfF_key` (a Lisp value), then `OK\\n` (done) or `ER\\n` (error).

Festival cannot bind to one address, so the server is locked down instead: clients only from
127.0.0.1, plus a random password per process (a festival server evaluates any Scheme it is
sent, system calls included). Requests are serialised per server (two cores: parallel
synthesis only slows both); a dead server is restarted on the next request.

msu_ru_nsh's letter-to-sound rules know only Cyrillic, Latin, digits, "-", "'" and "+", and the
whole utterance fails on anything else inside a word ("3,5", "10:30", "«да»", "—", "%"), so
text goes through `festival_text` first. festvox-ru's scripts are UTF-8 (`coding utf-8`)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import wave
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from voices.base import AudioChunk, EngineUnavailable, TtsEngine, TtsError, iterate_in_thread
from voices.text import prepare

if TYPE_CHECKING:
    from voices.profile import VoiceProfile

log = logging.getLogger(__name__)

DEFAULT_VOICES: Mapping[str, str] = {"ru": "msu_ru_nsh_clunits"}
DEFAULT_VOICE_DIRS: tuple[Path, ...] = (Path("/usr/share/festival/voices"),
                                        Path("/usr/local/share/festival/voices"),
                                        Path("/usr/lib/festival/voices"))
_KEY = b"ft_StUfF_key"


class FestivalError(TtsError):
    """Festival failed to start or to synthesize; the message carries its own complaint."""


# --- text for festival ----------------------------------------------------------------------

_RU_SYMBOLS = {"%": " процентов ", "+": " плюс ", "=": " равно ", "&": " и ", "@": " собака ",
               "#": " номер ", "№": " номер ", "$": " долларов ", "€": " евро ", "₽": " рублей ",
               "°": " градусов "}
_EN_SYMBOLS = {"%": " percent ", "+": " plus ", "=": " equals ", "&": " and ", "@": " at ",
               "#": " number ", "№": " number ", "$": " dollars ", "€": " euros ",
               "₽": " roubles ", "°": " degrees "}
_ALLOWED = re.compile(r"[^0-9A-Za-z\u0400-\u04ff .,!?;:'\-]")


def festival_text(text: str, language: str = "ru") -> str:
    """Text the voice can read: quotes dropped, dashes and brackets become pauses, symbols
    become words, separators inside numbers become spaces ("10:30" -> "10 30", read as
    "десять тридцать"), anything else outside letters, digits and plain punctuation dropped."""
    symbols = _RU_SYMBOLS if language == "ru" else _EN_SYMBOLS
    text = re.sub(r"(\d)[\s\u00a0](?=\d{3}\b)", r"\1", text)  # 10 000 -> 10000
    text = re.sub(r"(\d)[:.,/](?=\d)", r"\1 ", text)
    text = re.sub(r"\s*[—–]\s*", ", ", text)
    text = re.sub(r"[«»“”„\"`´‘’]", "", text)
    text = re.sub(r"[\[\](){}<>]", ", ", text)  # a lone bracket token breaks the voice
    text = text.replace("…", "...")
    text = "".join(symbols.get(ch, ch) for ch in text)
    text = _ALLOWED.sub(" ", text)
    text = re.sub(r"(?<=\w)'(?!\w)|(?<!\w)'(?=\w)|(?<!\w)'(?!\w)", "", text)  # stray quotes
    text = re.sub(r"(?<!\w)-+(?!\w)", ",", text)  # lone dashes: a pause
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"\s+", " ", text).strip(" ,;:")
    return text


def scheme_string(text: str) -> str:
    """A Scheme string literal: backslashes and double quotes escaped, so text cannot end the
    string and run as code."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def trim_silence(pcm: np.ndarray, rate: int, keep_lead_ms: int = 30, keep_tail_ms: int = 120,
                 threshold: float = 300.0) -> np.ndarray:
    """Festival pads each utterance with ~170 ms of silence before and ~230 ms after; keep only
    a little so the first sound comes sooner and clause pauses stay natural."""
    frame = max(1, rate // 100)
    n = len(pcm) // frame
    if n == 0:
        return pcm
    energy = np.sqrt(np.mean(np.square(pcm[: n * frame].astype(np.float32).reshape(n, frame)),
                             axis=1))
    loud = np.nonzero(energy > threshold)[0]
    if len(loud) == 0:
        return pcm
    start = max(0, loud[0] * frame - rate * keep_lead_ms // 1000)
    end = min(len(pcm), (loud[-1] + 1) * frame + rate * keep_tail_ms // 1000)
    return pcm[start:end]


# --- the server process ---------------------------------------------------------------------

def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)


class FestivalServer:
    """One `festival --server` process, started on demand and restarted when it has died.
    Blocking; `FestivalEngine` calls it from a worker thread under its lock."""

    def __init__(self, binary: str = "festival", preload: Sequence[str] = (), *,
                 host: str = "127.0.0.1", startup_timeout: float = 20.0,
                 request_timeout: float = 30.0) -> None:
        self.binary = binary
        self.preload = tuple(preload)
        self.host = host
        self.startup_timeout = startup_timeout
        self.request_timeout = request_timeout
        self.port = 0
        self.starts = 0
        self._password = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None  # made on first start

    @property
    def _dir(self) -> Path:
        if self._workdir is None:  # private (0700): holds the password file and the log
            self._workdir = tempfile.TemporaryDirectory(prefix="festival-")
        return Path(self._workdir.name)

    @property
    def _log_path(self) -> Path:
        return self._dir / "festival.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def running(self) -> bool:
        return self.pid is not None

    def _log_size(self) -> int:
        try:
            return self._log_path.stat().st_size
        except OSError:
            return 0

    def _log_tail(self, limit: int = 400, since: int = 0) -> str:
        """What festival printed (after byte `since`), squeezed to one line."""
        try:
            with open(self._log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""
        return " ".join(text.split())[-limit:]

    def start(self) -> None:
        self.stop()
        last_error = ""
        for _ in range(3):  # the free port may be taken between our probe and festival's bind
            self.port = _free_port(self.host)
            self._password = secrets.token_hex(16)
            # Settings go in a file in our private (0700) temp dir, not on the command line,
            # where any local user could read the password with ps.
            init = self._dir / "server.scm"
            init.write_text("\n".join([
                f"(set! server_port {self.port})",
                f"(set! server_passwd {scheme_string(self._password)})",
                "(set! server_log_file nil)",
                '(set! server_access_list (list "127.0.0.1" "localhost"))',
                *(f"({voice})" for voice in self.preload)]) + "\n", encoding="utf-8")
            init.chmod(0o600)
            args = [self.binary, "--server", str(init)]
            with open(self._log_path, "wb") as logfile:
                proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logfile,
                                        stderr=subprocess.STDOUT, cwd=self._dir)
            if self._wait_ready(proc):
                self._proc = proc
                self.starts += 1
                # kill the server if the engine is dropped without close(), or at exit
                self._finalizer = weakref.finalize(self, _stop_process, proc)
                log.info("festival server pid %d on %s:%d (%s)", proc.pid, self.host, self.port,
                         ", ".join(self.preload) or "default voice")
                return
            _stop_process(proc)
            last_error = self._log_tail() or f"exit status {proc.returncode}"
        raise FestivalError(f"festival server did not start: {last_error}")

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return True  # the child festival forks for us sees EOF and exits
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # stops the process, once
            self._finalizer = None
        self._proc = None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the server abruptly (tests, watchdogs); the next request restarts it."""
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, sig)
            self._proc.wait(timeout=5)

    def close(self) -> None:
        self.stop()  # the temp dir goes when this object does: start() may be called again

    def request(self, command: str) -> list[bytes]:
        """Send Scheme `command`; return the waveforms (RIFF bytes) it produced. Restarts a
        dead server and retries once when the connection fails before any reply."""
        if not self.running():
            if self._proc is not None:
                log.warning("festival server pid %d died (status %s); restarting",
                            self._proc.pid, self._proc.returncode)
            self.start()
        try:
            try:
                return self._exchange(command)
            except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as exc:
                log.warning("festival server unreachable (%s); restarting", exc)
                self.start()
                return self._exchange(command)
        except OSError as exc:  # timeouts, a second refusal: one error type for callers
            raise FestivalError(f"festival request failed: {exc}") from exc

    def _exchange(self, command: str) -> list[bytes]:
        log_start = self._log_size()  # so an error reports this request's complaint only
        with socket.create_connection((self.host, self.port), timeout=self.request_timeout) as s:
            s.sendall(self._password.encode() + b"\n" + command.encode("utf-8") + b"\n")
            s.shutdown(socket.SHUT_WR)
            data = bytearray()
            while chunk := s.recv(65536):
                data += chunk
        return self._parse(bytes(data), log_start)

    def _parse(self, data: bytes, log_start: int = 0) -> list[bytes]:
        waves: list[bytes] = []
        pos = 0
        while pos < len(data):
            tag = data[pos:pos + 3]
            pos += 3
            if tag in (b"WV\n", b"LP\n"):
                end = data.find(_KEY, pos)
                if end < 0:
                    raise FestivalError("festival reply cut off in the middle of a message")
                if tag == b"WV\n":
                    waves.append(data[pos:end])
                pos = end + len(_KEY)
            elif tag == b"OK\n":
                continue
            elif tag == b"ER\n":
                time.sleep(0.05)  # let festival's forked child flush its complaint
                reason = self._log_tail(300, since=log_start) or "no reason given"
                raise FestivalError(f"festival could not synthesize: {reason}")
            else:
                raise FestivalError(f"unexpected festival reply {data[pos - 3:pos + 20]!r} "
                                    "(wrong password or not a festival server)")
        return waves


# --- the engine -----------------------------------------------------------------------------

def _read_wave(riff: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(riff), "rb") as w:
        if w.getsampwidth() != 2:
            raise FestivalError(f"festival sent {8 * w.getsampwidth()}-bit audio, expected 16")
        rate, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1).astype("<i2")
    return pcm.astype(np.int16), rate


class FestivalEngine(TtsEngine):
    name: ClassVar[str] = "festival"

    def __init__(self, voices: Mapping[str, str] | None = None, *, binary: str = "festival",
                 voice_dirs: Sequence[Path] = DEFAULT_VOICE_DIRS, startup_timeout: float = 20.0,
                 request_timeout: float = 30.0, max_chars: int = 1000,
                 trim: bool = True) -> None:
        self.voices = dict(DEFAULT_VOICES if voices is None else voices)
        self.binary = binary
        self.voice_dirs = tuple(Path(d) for d in voice_dirs)
        self.max_chars = max_chars
        self.trim = trim
        self.server = FestivalServer(binary, preload=[f"voice_{v}" for v in self.voices.values()],
                                     startup_timeout=startup_timeout,
                                     request_timeout=request_timeout)
        self._lock = threading.Lock()
        self._installed: set[str] = set()

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.voices)

    def describe(self) -> str:
        return f"festival ({', '.join(self.voices.values())})"

    def _voice_installed(self, voice: str) -> bool:
        # checked on every phrase: remember the good news, look again after bad news
        if voice not in self._installed and any(
                d.is_dir() and any(d.glob(f"*/{voice}")) for d in self.voice_dirs):
            self._installed.add(voice)
        return voice in self._installed

    def available(self) -> tuple[bool, str]:
        if not self.voices:
            return False, "festival: no voices configured"
        if shutil.which(self.binary) is None:
            return False, f"{self.binary} is not installed (apt install festival festvox-ru)"
        missing = [v for v in self.voices.values() if not self._voice_installed(v)]
        if missing:
            return False, (f"festival voice(s) {', '.join(missing)} not found under "
                           f"{', '.join(map(str, self.voice_dirs))} (apt install festvox-ru)")
        return True, ""

    async def warm_up(self) -> None:
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(why)
        await asyncio.to_thread(self._ensure_started)

    def _ensure_started(self) -> None:
        with self._lock:
            if not self.server.running():
                self.server.start()

    def synthesize_piece(self, text: str, language: str) -> AudioChunk | None:
        """Blocking: one clause to one chunk (None when nothing in it is speakable)."""
        spoken = festival_text(text, language)
        if not any(ch.isalnum() for ch in spoken):
            return None
        command = (f"(voice_{self.voices[language]}) (Parameter.set 'Wavefiletype 'riff) "
                   f"(tts_textall {scheme_string(spoken)} \"nil\")")
        with self._lock:
            waves = self.server.request(command)
        if not waves:
            raise FestivalError(f"festival returned no audio for {spoken!r}")
        parts = [_read_wave(w) for w in waves]
        rate = parts[0][1]
        pcm = np.concatenate([p for p, _ in parts])
        if self.trim:
            pcm = trim_silence(pcm, rate)
        return AudioChunk(pcm.tobytes(), rate, text, self.name)

    def _synthesize(self, pieces: Sequence[str], language: str) -> Iterator[AudioChunk]:
        for piece in pieces:
            chunk = self.synthesize_piece(piece, language)
            if chunk is not None:
                yield chunk

    async def stream(self, text: str, voice: VoiceProfile) -> AsyncIterator[AudioChunk]:
        prepared = prepare(text, max_chars=self.max_chars, default_language=voice.language)
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(why)
        if prepared.language not in self.voices:
            raise TtsError(f"{self.describe()} has no {prepared.language} voice")
        produced = False
        async for chunk in iterate_in_thread(
                lambda: self._synthesize(prepared.pieces, prepared.language)):
            produced = True
            yield chunk
        if not produced:
            raise FestivalError(f"nothing in {prepared.text[:60]!r} is speakable by festival")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.close()
