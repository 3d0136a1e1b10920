"""A SIM7600G-H on two pseudo-terminals, as the driver sees the real one over USB.

The AT port (`at_path`, like /dev/ttyUSB2) echoes until ATE0, answers OK / ERROR /
+CME ERROR / +CMS ERROR, keeps SMS storage, and emits URCs (RING, +CLIP, VOICE CALL:
BEGIN/END, NO CARRIER, +CMTI, +CUSD, +RXDTMF, +CCWA). The PCM port (`pcm_path`, like
/dev/ttyUSB4) streams 8 kHz 16-bit PCM at a 20 ms pace while a call is up and AT+CPCMREG=1,
playing what the test queued (silence otherwise) and recording what the driver sends.

The paths are symlinks to the ptys' slave devices, like udev's stable names: `unplug()`
closes the ptys (the driver reads end of file, as when the USB modem re-enumerates) and
`replug()` makes new ones behind the same paths. SMS sent in PDU mode are turned into
SMS-DELIVERs from `own_number` byte for byte (header rewritten, user data untouched) and
announced with +CMTI, so a round trip checks the driver's encoder against its decoder
without the simulator decoding any text itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import tty
from dataclasses import dataclass, field
from pathlib import Path

FRAME_BYTES = 320
SILENCE = bytes(FRAME_BYTES)
SMSC = bytes.fromhex("07919761989901F0")  # +79168999100, as a DELIVER's SMS centre part
SCTS = bytes.fromhex("52117201054421")  # 2025-11-27 10:50:44 +03:00 (12 quarter hours)
# "Баланс: 123.45" in UCS2 hex, DCS 72, as an operator's balance answer comes
BALANCE_CUSD = '+CUSD: 0,"04110430043B0430043D0441003A0020003100320033002E00340035",72'


def semi_octets(number: str) -> bytes:
    digits = number.lstrip("+")
    padded = digits + ("F" if len(digits) % 2 else "")
    return bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def tpdu_length(pdu_hex: str) -> int:
    """What +CMGR/+CMGL report: octets after the SMS centre part (0 when unreadable)."""
    try:
        return max(0, len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16))
    except ValueError:
        return 0


@dataclass
class Submitted:
    """One SMS-SUBMIT as the simulator took it apart."""

    destination_digits: str
    dcs: int
    udhi: bool
    udl: int
    user_data: bytes
    reference: int


@dataclass
class _Pty:
    master: int
    slave: int
    path: Path


@dataclass
class SimState:
    echo: bool = True
    responding: bool = True
    call: str = "idle"  # idle, ringing, dialing, active
    caller: str = ""
    pcmreg: bool = False
    cmgf: int = 0
    cscs: str = "IRA"
    rssi: int = 20
    sim_locked: bool = False
    waiting_rejected: int = 0
    commands: list[str] = field(default_factory=list)
    submitted: list[Submitted] = field(default_factory=list)
    text_sms: list[tuple[str, str, str]] = field(default_factory=list)  # number, body, cscs
    storage: dict[int, tuple[int, str]] = field(default_factory=dict)  # index: stat, pdu
    frames_out: int = 0


class Sim7600Simulator:
    def __init__(self, folder: Path, *, own_number: str = "+79990001122",
                 pin: str | None = None, loopback_sms: bool = True,
                 ussd_reply: str = BALANCE_CUSD) -> None:
        self.folder = folder
        self.at_path = folder / "ttyUSB2"
        self.pcm_path = folder / "ttyUSB4"
        self.own_number = own_number
        self.pin = pin
        self.loopback_sms = loopback_sms
        self.ussd_reply = ussd_reply
        self.state = SimState(sim_locked=pin is not None)
        self.play_queue = bytearray()
        self.received_pcm = bytearray()
        self.received_while_idle = 0
        self._at: _Pty | None = None
        self._pcm: _Pty | None = None
        self._buf = bytearray()
        self._sms_body: tuple[str, str] | None = None  # ("pdu", length) / ("text", number)
        self._mr = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clock: asyncio.Task[None] | None = None
        self._later: set[asyncio.TimerHandle] = set()

    # ---- lifetime ---------------------------------------------------------------------

    async def start(self) -> Sim7600Simulator:
        self._loop = asyncio.get_running_loop()
        self.replug()
        self._clock = asyncio.create_task(self._pcm_clock())
        return self

    async def close(self) -> None:
        if self._clock is not None:
            self._clock.cancel()
            await asyncio.gather(self._clock, return_exceptions=True)
        self.unplug()

    def replug(self) -> None:
        """New ptys behind the same paths (a fresh boot: echo on, no call)."""
        assert self._loop is not None
        self.unplug()
        self.state.echo, self.state.call, self.state.pcmreg = True, "idle", False
        self._buf.clear()
        self._sms_body = None
        self._at = self._pty(self.at_path)
        self._pcm = self._pty(self.pcm_path)
        self._loop.add_reader(self._at.master, self._on_at)
        self._loop.add_reader(self._pcm.master, self._on_pcm)

    def unplug(self) -> None:
        """The modem vanishes: both ports close under the driver."""
        for handle in self._later:
            handle.cancel()
        self._later.clear()
        for pty in (self._at, self._pcm):
            if pty is None:
                continue
            if self._loop is not None:
                self._loop.remove_reader(pty.master)
            for fd in (pty.master, pty.slave):
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                pty.path.unlink()
        self._at = self._pcm = None
        self.state.call, self.state.pcmreg = "idle", False

    @property
    def pcm_fd(self) -> int:
        """The modem's end of the voice port (for tests that play the modem by hand)."""
        assert self._pcm is not None, "unplugged"
        return self._pcm.master

    @property
    def plugged(self) -> bool:
        return self._at is not None

    @staticmethod
    def _pty(path: Path) -> _Pty:
        master, slave = os.openpty()
        tty.setraw(slave)  # no line discipline: bytes pass as they are, like a USB port
        flags = fcntl.fcntl(master, fcntl.F_GETFL)
        fcntl.fcntl(master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        path.symlink_to(os.ttyname(slave))
        return _Pty(master, slave, path)

    # ---- what a test makes happen -------------------------------------------------------

    def ring(self, number: str) -> None:
        if self.state.call != "idle":  # call waiting: the network announces a second caller
            self.urc(f'+CCWA: "{number}",145,1')
            return
        self.state.call, self.state.caller = "ringing", number
        self.urc("RING")
        self.urc(f'+CLIP: "{number}",145,,,,0')

    def remote_hang_up(self) -> None:
        if self.state.call == "idle":
            return
        self.state.call, self.state.pcmreg = "idle", False
        self.urc("VOICE CALL: END: 000012")
        self.urc("NO CARRIER")

    def press(self, digit: str) -> None:
        self.urc(f"+RXDTMF: {digit}")

    def deliver(self, pdu_hex: str, stat: int = 0) -> int:
        """Store an incoming SMS and announce it, as the network's delivery does."""
        index = next(i for i in range(50) if i not in self.state.storage)
        self.state.storage[index] = (stat, pdu_hex)
        self.urc(f'+CMTI: "SM",{index}')
        return index

    def play(self, pcm16: bytes) -> None:
        self.play_queue += pcm16

    def urc(self, line: str) -> None:
        self._write(f"\r\n{line}\r\n".encode())

    def send_raw(self, data: bytes) -> None:
        self._write(data)

    # ---- AT port --------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._at is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._at.master, data)

    def _respond(self, *lines: str) -> None:
        self._write(b"".join(f"\r\n{line}\r\n".encode() for line in lines))

    def _later_urc(self, delay: float, line: str) -> None:
        assert self._loop is not None
        handle = self._loop.call_later(delay, self.urc, line)
        self._later.add(handle)

    def _on_at(self) -> None:
        assert self._at is not None
        try:
            data = os.read(self._at.master, 4096)
        except (BlockingIOError, OSError):
            return
        if not self.state.responding:
            return  # a hung modem: swallows everything, answers nothing
        self._buf += data
        while self._step():
            pass

    def _step(self) -> bool:
        if self._sms_body is not None:
            ends = [i for i in (self._buf.find(b"\x1a"), self._buf.find(b"\x1b")) if i >= 0]
            if not ends:
                return False
            end = min(ends)
            body, control = bytes(self._buf[:end]), self._buf[end]
            del self._buf[:end + 1]
            kind, detail = self._sms_body
            self._sms_body = None
            if control == 0x1B:
                self._respond("OK")  # cancelled at the prompt
            elif kind == "pdu":
                self._take_submit(body, int(detail))
            else:
                self.state.text_sms.append((detail, body.decode("ascii", "replace"),
                                            self.state.cscs))
                self._mr += 1
                self._respond(f"+CMGS: {self._mr}", "OK")
            return True
        end = self._buf.find(b"\r")
        if end < 0:
            return False
        raw = bytes(self._buf[:end])
        del self._buf[:end + 1]
        if self.state.echo:
            self._write(raw + b"\r")
        line = raw.decode("ascii", "replace").strip()
        if line:
            self.state.commands.append(line)
            self._command(line)
        return True

    def _command(self, line: str) -> None:  # one branch per command, like a modem
        s = self.state
        upper = line.upper()
        if upper == "AT":
            self._respond("OK")
        elif upper in ("ATE0", "ATE1"):
            s.echo = upper == "ATE1"
            self._respond("OK")
        elif upper == "AT+CPIN?":
            self._respond("+CPIN: SIM PIN" if s.sim_locked else "+CPIN: READY", "OK")
        elif upper.startswith("AT+CPIN="):
            if line.split("=", 1)[1].strip('"') == self.pin:
                s.sim_locked = False
                self._respond("OK")
            else:
                self._respond("+CME ERROR: incorrect password")
        elif upper.startswith(("AT+CMEE=", "AT+CLIP=", "AT+CNMI=", "AT+DDET=", "AT+CSMP=")):
            self._respond("OK")
        elif upper.startswith("AT+CSCS="):
            s.cscs = line.split("=", 1)[1].strip('"')
            self._respond("OK")
        elif upper.startswith("AT+CMGF="):
            s.cmgf = int(line.split("=", 1)[1])
            self._respond("OK")
        elif upper == "AT+CSQ":
            self._respond(f"+CSQ: {s.rssi},99", "OK")
        elif upper == "AT+CREG?":
            self._respond("+CREG: 0,1", "OK")
        elif upper == "AT+CEREG?":
            self._respond("+CEREG: 0,1", "OK")
        elif upper == "AT+COPS?":
            self._respond('+COPS: 0,0,"Sim Telecom",7', "OK")
        elif upper == "ATA":
            if s.call == "ringing":
                s.call = "active"
                self._respond("OK")
                self._later_urc(0.02, "VOICE CALL: BEGIN")
            else:
                self._respond("NO CARRIER")
        elif upper.startswith("ATD") and upper.endswith(";"):
            s.call, s.caller = "dialing", line[3:-1]
            self._respond("OK")
            assert self._loop is not None
            self._later.add(self._loop.call_later(0.1, self._far_end_answers))
        elif upper == "AT+CHUP":
            was = s.call
            s.call, s.pcmreg = "idle", False
            self._respond("OK")
            if was != "idle":
                self._later_urc(0.02, "VOICE CALL: END: 000007")
        elif upper == "AT+CHLD=0":
            s.waiting_rejected += 1
            self._respond("OK")
        elif upper.startswith("AT+CPCMREG="):
            on = line.endswith("1")
            if on and s.call != "active":
                self._respond("+CME ERROR: operation not allowed")
            else:
                s.pcmreg = on
                self._respond("OK")
        elif upper.startswith("AT+CMGS="):
            argument = line.split("=", 1)[1]
            self._sms_body = ("text", argument.strip('"')) if s.cmgf == 1 else ("pdu", argument)
            self._write(b"\r\n> ")
        elif upper.startswith("AT+CMGR="):
            index = int(line.split("=", 1)[1])
            if index not in s.storage:
                self._respond("+CMS ERROR: 321")
                return
            stat, pdu = s.storage[index]
            self._respond(f"+CMGR: {stat},,{tpdu_length(pdu)}", pdu, "OK")
        elif upper.startswith("AT+CMGD="):
            s.storage.pop(int(line.split("=", 1)[1].split(",")[0]), None)
            self._respond("OK")
        elif upper == "AT+CMGL=4":
            lines = []
            for index, (stat, pdu) in sorted(s.storage.items()):
                lines += [f"+CMGL: {index},{stat},,{tpdu_length(pdu)}", pdu]
            self._respond(*lines, "OK")
        elif upper.startswith("AT+CUSD=1,"):
            self._respond("OK")
            self._later_urc(0.05, self.ussd_reply)
        else:
            self._respond("ERROR")

    def _far_end_answers(self) -> None:
        if self.state.call == "dialing":
            self.state.call = "active"
            self.urc("VOICE CALL: BEGIN")

    def _take_submit(self, body: bytes, declared: int) -> None:
        if not re.fullmatch(rb"[0-9A-Fa-f]+", body) or len(body) % 2:
            self._respond("+CMS ERROR: 304")
            return
        data = bytes.fromhex(body.decode())
        tpdu = data[1 + data[0]:]
        if len(tpdu) != declared or tpdu[0] & 0x03 != 0x01:
            self._respond("+CMS ERROR: 304")  # length or type wrong: the modem refuses
            return
        first, digits = tpdu[0], tpdu[2]
        pos = 4 + (digits + 1) // 2
        destination = "".join(f"{b & 0xF:X}{b >> 4:X}" for b in tpdu[4:pos])[:digits]
        dcs = tpdu[pos + 1]
        vpf = (first >> 3) & 0x03
        pos += 2 + {0: 0, 2: 1}.get(vpf, 7)
        udl, user_data = tpdu[pos], tpdu[pos + 1:]
        self._mr = (self._mr + 1) & 0xFF
        self.state.submitted.append(Submitted(destination, dcs, bool(first & 0x40), udl,
                                              user_data, tpdu[1]))
        self._respond(f"+CMGS: {self._mr}", "OK")
        if self.loopback_sms:
            own = self.own_number.lstrip("+")
            deliver = SMSC + bytes([0x04 | (first & 0x40), len(own), 0x91]) \
                + semi_octets(own) + bytes([0x00, dcs]) + SCTS + bytes([udl]) + user_data
            assert self._loop is not None
            self._later.add(self._loop.call_later(0.02, self.deliver, deliver.hex().upper()))

    # ---- PCM port -------------------------------------------------------------------------

    def _on_pcm(self) -> None:
        assert self._pcm is not None
        try:
            data = os.read(self._pcm.master, 65536)
        except (BlockingIOError, OSError):
            return
        if self.state.call == "active" and self.state.pcmreg:
            self.received_pcm += data
        else:
            self.received_while_idle += len(data)

    async def _pcm_clock(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += 0.02
            delay = due - loop.time()
            if delay < -0.2:  # the loop stalled: the modem does not burst to catch up
                due = loop.time()
            await asyncio.sleep(max(0.0, delay))
            pty = self._pcm
            if pty is None or self.state.call != "active" or not self.state.pcmreg:
                continue
            frame = bytes(self.play_queue[:FRAME_BYTES]).ljust(FRAME_BYTES, b"\0")
            del self.play_queue[:FRAME_BYTES]
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(pty.master, frame)
                self.state.frames_out += 1
