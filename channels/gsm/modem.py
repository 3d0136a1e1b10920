"""The SIM7600G-H driver: init, calls (answer, hang up, dial, DTMF), SMS, USSD, status,
health polling, and reconnecting when the USB modem goes and comes back.

The modem says what happens through URCs: RING and +CLIP for an incoming call, VOICE CALL:
BEGIN/END, NO CARRIER, +CMTI for a stored SMS, +CUSD for a USSD answer, +RXDTMF for keys
(after AT+DDET=1). These become calls on `ModemEvents` (the service above us). A call's
voice is not here: after ATA, AT+CPCMREG=1 switches the voice onto the PCM serial port,
which the call's `PcmSerialLink` reads and writes.

`run()` keeps the modem connected: open the AT port, initialise, poll health; when the
port disappears or the modem stops answering, back off and start again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from channels.gsm.at import AtChannel, AtCommandError, AtError, AtTimeout, PortGone
from channels.gsm.pdu import (
    PduError,
    Reassembly,
    SmsMessage,
    decode_deliver,
    encode_submit,
    from_ucs2_hex,
    gsm7_septets,
    is_ucs2_dcs,
    ucs2_hex,
)

log = logging.getLogger(__name__)

REGISTRATION = {0: "not registered", 1: "home network", 2: "searching", 3: "denied",
                4: "unknown", 5: "roaming", 6: "home network (SMS only)",
                7: "roaming (SMS only)", 8: "emergency only", 11: "no service"}
ACCESS_TECH = {0: "GSM", 2: "UTRAN", 3: "GSM/EGPRS", 4: "HSDPA", 5: "HSUPA", 6: "HSPA",
               7: "LTE"}
USSD_STATUS = {0: "done", 1: "more input expected", 2: "ended by the network",
               3: "answered elsewhere", 4: "not supported", 5: "timed out"}
USSD_CODE = re.compile(r"[0-9*#+]{1,40}")
_QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class ModemConfig:
    at_port: str
    pcm_port: str
    baudrate: int = 115200
    pin: str | None = None
    command_timeout_s: float = 5.0
    answer_timeout_s: float = 10.0
    sms_timeout_s: float = 60.0  # the network takes seconds to accept an SMS
    ussd_timeout_s: float = 30.0
    health_interval_s: float = 30.0
    unanswered_limit: int = 3  # health checks in a row without an answer: reconnect
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    ring_wait_clip_s: float = 1.0  # after RING, wait this long for +CLIP (the number)
    concat_timeout_s: float = 3600.0  # parts of a long SMS that never complete


class ModemEvents:
    """What the driver reports; the service above overrides what it cares about. Called
    on the event loop; must not block."""

    def incoming_call(self, number: str) -> None: ...

    def call_ended(self, reason: str) -> None: ...

    def dtmf(self, digit: str) -> None: ...

    def sms_received(self, message: SmsMessage) -> None: ...

    def connection_changed(self, connected: bool) -> None: ...


@dataclass
class ModemStatus:
    at_port: str
    pcm_port: str
    connected: bool = False
    signal_dbm: int | None = None
    registration: str = "unknown"
    operator: str = ""
    technology: str = ""
    last_error: str = ""
    call: str = "idle"  # idle, ringing, answering, active, dialing
    caller: str = ""
    connects: int = 0
    rejected_calls: int = 0
    sms_received: int = 0
    sms_sent: int = 0
    malformed_sms: int = 0
    garbage_lines: int = 0
    at_timeouts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UssdReply:
    status: int
    text: str

    @property
    def meaning(self) -> str:
        return USSD_STATUS.get(self.status, f"status {self.status}")


@dataclass
class _Session:
    """One connection's state: what a reconnect starts afresh."""

    channel: AtChannel
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    lost_reason: str = ""
    restarted: asyncio.Event = field(default_factory=asyncio.Event)  # RDY: init again


def csq_to_dbm(rssi: int) -> int | None:
    """27.007 AT+CSQ <rssi>: 0 is -113 dBm or less, 31 is -51 dBm or more, 99 unknown."""
    if rssi == 99 or not 0 <= rssi <= 31:
        return None
    return -113 + 2 * rssi


class Sim7600:
    """Start with `start()` (or await `run()`), stop with `await stop()`."""

    def __init__(self, config: ModemConfig, events: ModemEvents | None = None) -> None:
        self.config = config
        self.events = events or ModemEvents()
        self.status = ModemStatus(at_port=config.at_port, pcm_port=config.pcm_port)
        self.reassembly = Reassembly(config.concat_timeout_s)
        self._session: _Session | None = None
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ring_timer: asyncio.TimerHandle | None = None
        self._call_begun = asyncio.Event()
        self._ussd: asyncio.Future[UssdReply] | None = None
        self._ussd_lock = asyncio.Lock()
        self._sms_reference = 0
        self._sms_taking: set[int] = set()  # storage indexes being read and deleted
        self._unanswered = 0
        self._garbage_base = 0  # counts of the connections before this one
        self._timeout_base = 0

    # ---- lifetime ---------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="sim7600")

    async def stop(self) -> None:
        self._stopping.set()
        if self._session is not None:
            self._session.channel.close()
        for task in [self._task, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._task, *self._tasks] if t is not None),
                             return_exceptions=True)
        self._task = None

    async def wait_ready(self, within_s: float) -> None:
        """Until the modem is connected and initialised (TimeoutError otherwise)."""
        async with asyncio.timeout(within_s):
            await self._ready.wait()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def run(self) -> None:
        delay = self.config.reconnect_initial_s
        while not self._stopping.is_set():
            try:
                session = self._open()
                await self._initialise(session)
                self._set_ready(True)
                delay = self.config.reconnect_initial_s
                await self._serve(session)
            except AtError as exc:
                self.status.last_error = str(exc)
                log.warning("GSM modem: %s", exc)
            finally:
                self._close_session()
            if self._stopping.is_set():
                break
            log.info("GSM modem: reconnecting in %.1f s", delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            delay = min(delay * 2, self.config.reconnect_max_s)

    def _open(self) -> _Session:
        channel = AtChannel(self.config.at_port, self.config.baudrate,
                            on_urc=self._on_urc, on_lost=self._on_lost)
        session = _Session(channel)
        self._session = session
        channel.open()  # PortGone when the device is not there (yet)
        return session

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        self._count(session)
        self._garbage_base += session.channel.counters.garbage
        self._timeout_base += session.channel.counters.timeouts
        session.channel.close()
        self._set_ready(False)
        if self.status.call != "idle":  # the modem took the call with it
            self._call_over("the GSM modem went away")

    def _count(self, session: _Session) -> None:
        self.status.garbage_lines = self._garbage_base + session.channel.counters.garbage
        self.status.at_timeouts = self._timeout_base + session.channel.counters.timeouts

    def _set_ready(self, ready: bool) -> None:
        if ready == self._ready.is_set():
            return
        self.status.connected = ready
        if ready:
            self._ready.set()
            self.status.connects += 1
            self.status.last_error = ""
            log.info("GSM modem ready on %s (%s, %s dBm)", self.config.at_port,
                     self.status.registration, self.status.signal_dbm)
        else:
            self._ready.clear()
        self.events.connection_changed(ready)

    def _on_lost(self, reason: str) -> None:
        session = self._session
        if session is not None:
            session.lost_reason = reason
            session.lost.set()
        if self.status.call != "idle":
            self._call_over("the GSM modem went away")

    async def _command(self, command: str, timeout_s: float | None = None, **kw: Any
                       ) -> list[str]:
        session = self._session
        if session is None:
            raise PortGone(f"{command}: the GSM modem is not connected")
        return await session.channel.command(
            command, self.config.command_timeout_s if timeout_s is None else timeout_s, **kw)

    async def _initialise(self, session: _Session) -> None:
        # The modem may still echo and may be mid-boot: a few plain ATs until it answers.
        for attempt in range(3):
            try:
                await self._command("AT", timeout_s=min(2.0, self.config.command_timeout_s))
                break
            except AtTimeout:
                if attempt == 2:
                    raise AtTimeout("the modem does not answer AT (is this its AT port?)") \
                        from None
        for command in ("ATE0", "AT+CMEE=2"):
            await self._command(command)
        await self._unlock_sim()
        for command in ("AT+CLIP=1", "AT+CMGF=0", "AT+CNMI=2,1,0,0,0"):
            await self._command(command)
        for optional in ("AT+DDET=1", "AT+CPCMREG=0"):  # firmware-dependent; keys then
            with contextlib.suppress(AtCommandError):  # come without +RXDTMF
                await self._command(optional)
        session.restarted.clear()
        self._sms_taking.clear()
        await self.refresh_status()
        self._spawn(self._read_stored_sms())

    async def _unlock_sim(self) -> None:
        lines = await self._command("AT+CPIN?")
        state = lines[0].split(":", 1)[1].strip() if lines else ""
        if state == "READY":
            return
        if state == "SIM PIN" and self.config.pin:
            await self._command(f'AT+CPIN="{self.config.pin}"')
            return
        raise AtError(f"the SIM is not ready ({state or 'no answer'}); "
                      + ("check gsm.pin" if state == "SIM PIN" else "check the SIM card"))

    async def _serve(self, session: _Session) -> None:
        """Poll health until the port goes or the modem stops answering."""
        while not self._stopping.is_set():
            waits = {asyncio.create_task(session.lost.wait()),
                     asyncio.create_task(session.restarted.wait())}
            _, pending = await asyncio.wait(waits, timeout=self.config.health_interval_s,
                                            return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if session.lost.is_set():
                raise PortGone(f"the modem port went away ({session.lost_reason})")
            if session.restarted.is_set():
                log.warning("GSM modem restarted by itself: initialising again")
                await self._initialise(session)
                continue
            await self._health_check()

    async def _health_check(self) -> None:
        try:
            await self.refresh_status()
            self._unanswered = 0
        except AtTimeout as exc:
            self._unanswered += 1
            self.status.last_error = str(exc)
            if self._unanswered >= self.config.unanswered_limit:
                self._unanswered = 0
                raise AtTimeout(f"the modem stopped answering ({self.config.unanswered_limit} "
                                "health checks in a row timed out); reconnecting") from None
        except AtCommandError as exc:
            self.status.last_error = str(exc)
        for message in self.reassembly.expire():
            self._sms_complete(message)

    # ---- status -----------------------------------------------------------------------

    async def refresh_status(self) -> ModemStatus:
        if self._session is not None:
            self._count(self._session)
        for line in await self._command("AT+CSQ"):
            numbers = _numbers(line)
            if numbers:
                self.status.signal_dbm = csq_to_dbm(numbers[0])
        registration = None
        for command in ("AT+CREG?", "AT+CEREG?"):
            try:
                lines = await self._command(command)
            except AtCommandError:
                continue  # no LTE registration report on this firmware
            for line in lines:
                numbers = _numbers(line)
                if len(numbers) >= 2 and (registration is None or numbers[1] in (1, 5)):
                    registration = numbers[1]
        if registration is not None:
            self.status.registration = REGISTRATION.get(registration, f"state {registration}")
        for line in await self._command("AT+COPS?"):
            name = _QUOTED.search(line)
            self.status.operator = name.group(1) if name else ""
            numbers = _numbers(line.rsplit('"', 1)[-1]) if name else []
            self.status.technology = ACCESS_TECH.get(numbers[-1], "") if numbers else ""
        return self.status

    # ---- calls ------------------------------------------------------------------------

    async def answer(self) -> None:
        """Take the ringing call and switch its voice onto the PCM port."""
        if self.status.call not in ("ringing", "idle"):
            raise AtError(f"no call to answer (the line is {self.status.call})")
        self.status.call = "answering"
        try:
            await self._command("ATA", timeout_s=self.config.answer_timeout_s)
            self.status.call = "active"
            await self._command("AT+CPCMREG=1")
        except AtError:
            if self.status.call != "idle":
                self.status.call = "idle"
            raise

    async def hang_up(self) -> None:
        """End the call (the voice port first: the SIM7600 wants PCM off before AT+CHUP)."""
        self._cancel_ring_timer()
        was = self.status.call
        self.status.call, self.status.caller = "idle", ""
        with contextlib.suppress(AtCommandError):
            await self._command("AT+CPCMREG=0")
        if was != "idle":
            await self._command("AT+CHUP")

    async def dial(self, number: str, answer_within_s: float = 60.0) -> None:
        """Call `number` and wait until it answers; the voice then runs on the PCM port."""
        if self.status.call != "idle":
            raise AtError(f"the line is busy ({self.status.call})")
        if not re.fullmatch(r"\+?[0-9*#]{1,32}", number):
            raise ValueError(f"not a number to dial: {number!r}")
        self._call_begun.clear()
        self.status.call, self.status.caller = "dialing", number
        try:
            await self._command(f"ATD{number};", timeout_s=self.config.answer_timeout_s)
            async with asyncio.timeout(answer_within_s):
                await self._call_begun.wait()
            if self.status.call != "active":
                raise AtError(f"the call to {number} did not go through")
            await self._command("AT+CPCMREG=1")
        except (AtError, TimeoutError) as exc:
            with contextlib.suppress(AtError):
                await self.hang_up()
            if isinstance(exc, TimeoutError):
                raise AtTimeout(f"{number} did not answer within {answer_within_s:g} s") from None
            raise

    def _ring(self) -> None:
        state = self.status.call
        if state in ("active", "answering", "dialing"):
            # one call at a time: a second caller is turned away (AT+CHLD=0 releases a
            # waiting call; AT+CHUP would end ours too)
            self.status.rejected_calls += 1
            log.info("GSM: a second call while busy: rejected")
            self._spawn(self._reject_waiting())
            return
        if state == "ringing":
            return  # RING repeats every few seconds until answered
        self.status.call, self.status.caller = "ringing", ""
        loop = asyncio.get_running_loop()
        self._ring_timer = loop.call_later(self.config.ring_wait_clip_s, self._announce)

    def _clip(self, line: str) -> None:
        found = _QUOTED.search(line)
        number = found.group(1) if found else ""
        if self.status.call == "ringing" and self._ring_timer is not None:
            self.status.caller = number
            self._cancel_ring_timer()
            self._announce()
        elif self.status.call == "idle":  # +CLIP before RING (some firmware)
            self._ring()
            self._clip(line)

    def _announce(self) -> None:
        self._ring_timer = None
        if self.status.call == "ringing":
            log.info("GSM: incoming call from %r", self.status.caller)
            self.events.incoming_call(self.status.caller)

    def _cancel_ring_timer(self) -> None:
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None

    async def _reject_waiting(self) -> None:
        with contextlib.suppress(AtError):
            await self._command("AT+CHLD=0")

    def _call_over(self, reason: str) -> None:
        self._cancel_ring_timer()
        if self.status.call == "idle":
            return
        self.status.call, self.status.caller = "idle", ""
        self._call_begun.set()  # a dial waiting for the answer learns it failed
        log.info("GSM: call ended (%s)", reason)
        self.events.call_ended(reason)

    # ---- URCs -------------------------------------------------------------------------

    def _on_urc(self, line: str) -> None:
        if line == "RING":
            self._ring()
        elif line.startswith("+CLIP:"):
            self._clip(line)
        elif line.startswith("+CCWA:"):
            self._ring()  # a waiting call while ours is up: rejected in _ring
        elif line.startswith("VOICE CALL: BEGIN"):
            if self.status.call in ("dialing", "answering", "ringing"):
                self.status.call = "active"
            self._call_begun.set()
        elif line.startswith("VOICE CALL: END") and self.status.call == "dialing":
            pass  # the end of the call before (ours, just hung up); a failed dial says BUSY
        elif line.startswith(("VOICE CALL: END", "MISSED_CALL:")) \
                or line in ("NO CARRIER", "BUSY", "NO ANSWER"):
            self._call_over(f"the caller hung up ({line})")
        elif line.startswith(("+RXDTMF:", "+DTMF:")):
            digit = line.split(":", 1)[1].strip()
            if len(digit) == 1 and digit in "0123456789*#ABCD":
                self.events.dtmf(digit)
        elif line.startswith("+CMTI:"):
            numbers = _numbers(line)
            if numbers:
                self._spawn(self._take_sms(numbers[-1]))
        elif line.startswith("+CUSD:"):
            self._ussd_urc(line)
        elif line == "RDY" and self._session is not None:
            self._session.restarted.set()
        else:
            log.debug("GSM URC ignored: %s", line)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- SMS --------------------------------------------------------------------------

    async def send_sms(self, number: str, text: str, *, text_mode: bool = False) -> list[int]:
        """Send `text` (split into parts when long); the network's message references."""
        if text_mode:
            return [await self._send_text_mode(number, text)]
        self._sms_reference = (self._sms_reference + 1) & 0xFF
        references = []
        for part in encode_submit(number, text, reference=self._sms_reference):
            lines = await self._command(f"AT+CMGS={part.tpdu_length}",
                                        timeout_s=self.config.sms_timeout_s,
                                        data=part.hex.encode("ascii"))
            references += [_numbers(line)[0] for line in lines if _numbers(line)]
        self.status.sms_sent += 1
        return references

    async def _send_text_mode(self, number: str, text: str) -> int:
        """AT+CMGF=1: GSM characters as they are, anything else as UCS2 hex (one part)."""
        septets = gsm7_septets(text)
        plain = septets is not None and text.isascii()
        if (plain and len(septets or []) > 160) or (not plain and len(text) > 70):
            raise PduError("too long for one text-mode SMS; send it in PDU mode")
        if not re.fullmatch(r"\+?[0-9]{1,20}", number):
            raise PduError(f"not a phone number: {number!r}")
        try:
            await self._command("AT+CMGF=1")
            if plain:
                await self._command('AT+CSCS="GSM"')
                await self._command("AT+CSMP=17,167,0,0")
                target, body = number, text.encode("ascii")
            else:
                await self._command('AT+CSCS="UCS2"')
                await self._command("AT+CSMP=17,167,0,8")
                target, body = ucs2_hex(number), ucs2_hex(text).encode("ascii")
            lines = await self._command(f'AT+CMGS="{target}"', timeout_s=self.config.sms_timeout_s,
                                        data=body)
        finally:
            with contextlib.suppress(AtError):
                await self._command('AT+CSCS="IRA"')
                await self._command("AT+CMGF=0")
        self.status.sms_sent += 1
        numbers = [n for line in lines for n in _numbers(line)]
        return numbers[0] if numbers else -1

    async def _take_sms(self, index: int) -> None:
        if index in self._sms_taking:  # the start-up listing has it already
            return
        self._sms_taking.add(index)
        try:
            lines = await self._command(f"AT+CMGR={index}")
            self._accept_pdu(index, lines[1] if len(lines) > 1 else "")
            await self._command(f"AT+CMGD={index}")
        except AtError as exc:
            log.warning("GSM: cannot read SMS %d: %s", index, exc)
        finally:
            self._sms_taking.discard(index)

    async def _read_stored_sms(self) -> None:
        """Messages that came while we were away (or before the +CMTI was seen)."""
        try:
            lines = await self._command("AT+CMGL=4")
        except AtError as exc:
            log.warning("GSM: cannot list stored SMS: %s", exc)
            return
        indexes = []
        for header, pdu in itertools.pairwise(lines):
            if header.startswith("+CMGL:") and not pdu.startswith("+CMGL:"):
                index = _numbers(header)[0]
                if index in self._sms_taking:  # a +CMTI got there first
                    continue
                self._sms_taking.add(index)
                indexes.append(index)
                self._accept_pdu(index, pdu)
        for index in indexes:
            try:
                with contextlib.suppress(AtError):
                    await self._command(f"AT+CMGD={index}")
            finally:
                self._sms_taking.discard(index)

    def _accept_pdu(self, index: int, pdu: str) -> None:
        try:
            part = decode_deliver(pdu)
        except PduError as exc:
            self.status.malformed_sms += 1
            self.status.last_error = f"SMS {index} could not be read: {exc}"
            log.error("GSM: SMS %d is malformed (%s); deleted. PDU: %s", index, exc, pdu[:400])
            return
        message = self.reassembly.add(part)
        if message is not None:
            self._sms_complete(message)

    def _sms_complete(self, message: SmsMessage) -> None:
        self.status.sms_received += 1
        self.events.sms_received(message)

    # ---- USSD -------------------------------------------------------------------------

    async def ussd(self, code: str) -> UssdReply:
        """Send a USSD code ("*100#") and wait for the network's answer."""
        if not USSD_CODE.fullmatch(code):
            raise ValueError(f"not a USSD code: {code!r}")
        async with self._ussd_lock:
            future: asyncio.Future[UssdReply] = asyncio.get_running_loop().create_future()
            self._ussd = future
            try:
                await self._command(f'AT+CUSD=1,"{code}",15')
                async with asyncio.timeout(self.config.ussd_timeout_s):
                    return await future
            except TimeoutError:
                raise AtTimeout(f"no USSD answer to {code} within "
                                f"{self.config.ussd_timeout_s:g} s") from None
            finally:
                self._ussd = None

    def _ussd_urc(self, line: str) -> None:
        reply = parse_cusd(line)
        if self._ussd is not None and not self._ussd.done():
            self._ussd.set_result(reply)
        else:
            log.info("GSM: USSD from the network: %s", reply.text)


def parse_cusd(line: str) -> UssdReply:
    """+CUSD: <m>[,"<str>"[,<dcs>]]: UCS2 text comes as hex (SIM7600 with AT+CSCS="IRA")."""
    _, _, rest = line.partition(":")
    status_text, _, rest = rest.strip().partition(",")
    status = int(status_text) if status_text.strip().isdigit() else -1
    text = ""
    if rest.startswith('"'):
        end = rest.rfind('"')
        text = rest[1:end] if end > 0 else rest[1:]
        dcs_text = rest[end + 1:].lstrip(",").strip() if end > 0 else ""
        dcs = int(dcs_text) if dcs_text.isdigit() else 15
        if is_ucs2_dcs(dcs) and re.fullmatch(r"(?:[0-9A-Fa-f]{4})+", text):
            with contextlib.suppress(PduError):
                text = from_ucs2_hex(text)
    return UssdReply(status, text)


def _numbers(line: str) -> list[int]:
    """The integers after the `+XXX:` prefix of a response line."""
    body = line.split(":", 1)[1] if ":" in line else line
    return [int(n) for n in re.findall(r"(?<![\w\"])(\d+)(?![\w\"])", body)]
