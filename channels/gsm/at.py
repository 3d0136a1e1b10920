"""The AT command channel on a modem's serial port: one command at a time, its intermediate
lines and final result code, the SMS `>` prompt, and unsolicited result codes (URCs).

URCs arrive whenever the modem likes, also in the middle of a command's response: a line is
the command's own when it carries the command's prefix (`+CSQ:` for AT+CSQ) or is not a
known URC; RING, +CLIP, +CMTI and the like go to `on_urc`. Garbage on the line (line noise,
a modem rebooting, bytes that are not text) is counted and logged, never raised. The port
going away (a USB modem re-enumerates) fails the command under way with `PortGone` and is
reported once through `on_lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from channels.gsm.errors import AtCommandError, AtError, AtTimeout, PortGone
from channels.gsm.serial_port import SerialPort

log = logging.getLogger(__name__)

__all__ = ["AtChannel", "AtCommandError", "AtError", "AtTimeout", "PortGone", "is_urc",
           "response_prefix"]

# Result codes that end a call attempt (ATA, ATD) and, outside a command, report a call's end.
CALL_FINALS = frozenset({"NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE"})
URC_PREFIXES = ("RING", "+CLIP:", "VOICE CALL:", "MISSED_CALL:", "+CMTI:", "+CMT:",
                "+CUSD:", "+RXDTMF:", "+DTMF:", "+CCWA:", "+CREG:", "+CEREG:", "+CGREG:",
                "RDY", "+CPIN:", "SMS DONE", "PB DONE", "+CFUN:", "+CDS:")
MAX_LINE = 4096  # a "line" longer than this without an end is noise
PROMPT = b">"
CTRL_Z = b"\x1a"
_PREFIX = re.compile(r"^AT([+^$#][A-Z0-9]+)", re.IGNORECASE)


def is_urc(line: str) -> bool:
    return line.startswith(URC_PREFIXES) or line in CALL_FINALS


def response_prefix(command: str) -> str | None:
    """`+CSQ:` for AT+CSQ, AT+CSQ?, AT+CSQ=...; None for basic commands (ATA, ATE0)."""
    found = _PREFIX.match(command)
    return f"{found.group(1).upper()}:" if found else None


@dataclass
class _Pending:
    command: str
    prefix: str | None
    is_call: bool
    done: asyncio.Future[str]
    prompt: asyncio.Future[None] | None
    lines: list[str] = field(default_factory=list)


@dataclass
class AtCounters:
    commands: int = 0
    timeouts: int = 0
    errors: int = 0
    urcs: int = 0
    garbage: int = 0  # lines that were not text
    stray: int = 0  # result codes that answered no command (a late answer after a timeout)


class AtChannel(SerialPort):
    """Open with `open()` (raises `PortGone`), then `await command(...)`."""

    role = "modem AT port"

    def __init__(self, port: str, baudrate: int = 115200, *,
                 on_urc: Callable[[str], None] | None = None,
                 on_lost: Callable[[str], None] | None = None) -> None:
        super().__init__(port, baudrate, on_lost=on_lost)
        self.on_urc = on_urc
        self.counters = AtCounters()
        self._buf = bytearray()
        self._pending: _Pending | None = None
        self._lock = asyncio.Lock()

    # ---- lifetime ---------------------------------------------------------------------

    def open(self) -> None:
        self._buf.clear()
        self._open_port(write_timeout=2)

    @property
    def is_open(self) -> bool:
        return not self._closed

    def _closing(self, reason: str) -> None:
        # a command under way fails with `PortGone`
        pending, self._pending = self._pending, None
        if pending is not None:
            for future in (pending.done, pending.prompt):
                if future is not None and not future.done():
                    future.set_exception(PortGone(f"{pending.command}: {reason}"))

    # ---- commands ---------------------------------------------------------------------

    async def command(self, command: str, timeout_s: float = 5.0, *,
                      prefix: str | None = None, data: bytes | None = None) -> list[str]:
        """Send `command`; return its intermediate lines once the modem says OK.

        `data`: the command asks for a `>` prompt (AT+CMGS), then gets `data` and Ctrl-Z.
        Raises AtCommandError, AtTimeout, PortGone."""
        async with self._lock:
            if self._closed or self._serial is None:
                raise PortGone(f"{command}: the modem port {self.port} is not open")
            loop = asyncio.get_running_loop()
            upper = command.upper()
            pending = _Pending(
                command=command, prefix=prefix or response_prefix(command),
                is_call=upper.startswith(("ATA", "ATD")), done=loop.create_future(),
                prompt=loop.create_future() if data is not None else None)
            self._pending = pending
            self.counters.commands += 1
            try:
                self._write(command.encode("ascii") + b"\r")
                async with asyncio.timeout(timeout_s):
                    if pending.prompt is not None and data is not None:
                        await pending.prompt
                        self._write(data + CTRL_Z)
                    final = await pending.done
            except TimeoutError:
                self.counters.timeouts += 1
                if pending.prompt is not None and not pending.prompt.done():
                    self._write_quietly(b"\x1b")  # leave the prompt, or it eats the next command
                raise AtTimeout(f"{command}: no answer from the modem within {timeout_s:g} s") \
                    from None
            finally:
                if self._pending is pending:
                    self._pending = None
            if final != "OK":
                self.counters.errors += 1
                raise AtCommandError(command, final)
            return pending.lines

    def _write(self, data: bytes) -> None:
        assert self._serial is not None
        try:
            self._serial.write(data)
        except (serial.SerialException, OSError) as exc:
            self._lost(f"write failed: {exc}")
            raise PortGone(f"the modem port {self.port} went away: {exc}") from None

    def _write_quietly(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            if self._serial is not None and not self._closed:
                self._serial.write(data)

    # ---- reading ----------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        self._buf += data
        self._parse()

    def _parse(self) -> None:
        while True:
            pending = self._pending
            if pending is not None and pending.prompt is not None \
                    and not pending.prompt.done():
                stripped = bytes(self._buf).lstrip(b"\r\n")
                if stripped.startswith(PROMPT):
                    del self._buf[:len(self._buf) - len(stripped) + 1]
                    if self._buf[:1] == b" ":
                        del self._buf[:1]
                    pending.prompt.set_result(None)
                    continue
            ends = [i for i in (self._buf.find(b"\r"), self._buf.find(b"\n")) if i >= 0]
            if not ends:
                if len(self._buf) > MAX_LINE:
                    self._garbage(bytes(self._buf[:64]))
                    self._buf.clear()
                return
            end = min(ends)
            raw = bytes(self._buf[:end]).strip()
            del self._buf[:end + 1]
            if raw:
                self._line(raw)

    def _line(self, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._garbage(raw)
            return
        if any(ord(ch) < 32 and ch != "\t" for ch in text):
            self._garbage(raw)
            return
        pending = self._pending
        if pending is None:
            if text == "OK" or _is_error(text):
                self.counters.stray += 1
                log.debug("modem %s: %r answered no command", self.port, text)
                return
            self._urc(text)
            return
        if text == pending.command:
            return  # the modem's echo (before ATE0 takes effect)
        if text == "OK" or _is_error(text) or (pending.is_call and text in CALL_FINALS):
            if not pending.done.done():
                pending.done.set_result(text)
            return
        if pending.prefix is not None and text.startswith(pending.prefix):
            pending.lines.append(text)
        elif is_urc(text):
            self._urc(text)
        else:
            pending.lines.append(text)

    def _urc(self, text: str) -> None:
        self.counters.urcs += 1
        if self.on_urc is None:
            return
        try:
            self.on_urc(text)
        except Exception:  # a handler's bug must not stop the port's reader
            log.exception("modem %s: handling %r failed", self.port, text)

    def _garbage(self, raw: bytes) -> None:
        self.counters.garbage += 1
        count = self.counters.garbage
        if count == 1 or count % 100 == 0:
            log.warning("modem %s: garbage on the serial line (%d lines so far), e.g. %r",
                        self.port, count, raw[:64])


def _is_error(text: str) -> bool:
    return text == "ERROR" or text.startswith(("+CME ERROR:", "+CMS ERROR:"))
