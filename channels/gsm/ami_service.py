"""The GSM line for the console when Asterisk's chan_dongle / chan_quectel owns the modem:
what `GsmService` offers the GSM page (the modem's state, SMS out, USSD, every SMS stored),
done through AMI (`AmiGsm`). Calls are Asterisk's business here and reach us through ARI.

The first connection is retried in the background with backoff (Asterisk may start after
us); once logged in, panoramisk reconnects by itself every `reconnect_s` and this service
logs each loss and return. The driver's own view of the device (`*ShowDevices`: state,
signal, registration, operator) is polled every `poll_interval_s` and after each login.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from typing import Any

from channels.gsm.ami import AmiConfig, AmiError, AmiGsm
from channels.gsm.modem import ModemStatus, UssdReply
from channels.gsm.pdu import PduError, encode_submit
from channels.gsm.store import SmsRecord, SmsStore

log = logging.getLogger(__name__)

DRIVER_NAME = {"dongle": "chan_dongle", "quectel": "chan_quectel"}
# chan_dongle's GSMRegistrationStatus words, in the words our own driver uses
REGISTRATION = {"registered, home network": "home network", "registered, roaming": "roaming",
                "not registered, but searching": "searching",
                "not registered, not searching": "not registered",
                "registration denied": "denied"}
CALL_STATE = {"ring": "ringing", "incoming": "ringing", "waiting": "ringing",
              "dialing": "dialing", "active": "active", "held": "active"}
OFFLINE_STATES = ("not connected", "not initialized")
DBM = re.compile(r"(-\d+) dBm")


@dataclasses.dataclass
class AmiModemStatus(ModemStatus):
    """`ModemStatus` as seen through a channel driver: the ports are the driver's settings
    (empty until it lists the device), `state` is the driver's own word for the device."""

    driver: str = ""  # chan_dongle / chan_quectel
    device: str = ""
    state: str = ""


class AmiGsmService:
    """`await start()` (never fails: AMI is reached in the background), `status()`,
    `send_sms`, `ussd`, `await stop()`; received SMS are stored as they arrive."""

    def __init__(self, config: AmiConfig, sms: SmsStore | None = None, *,
                 retry_max_s: float = 30.0, poll_interval_s: float = 30.0) -> None:
        self.config = config
        self.sms = sms
        self.retry_max_s = retry_max_s
        self.poll_interval_s = poll_interval_s
        self.ami = AmiGsm(config, on_sms=self._sms_received, on_link=self._link)
        self._status = AmiModemStatus(at_port="", pcm_port="",
                                      driver=DRIVER_NAME[config.driver], device=config.device)
        self._device_known = False
        self._refresh = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._saving: set[asyncio.Task[Any]] = set()
        # the drivers answer USSD by event, with nothing to tell two requests' answers apart
        self._ussd_lock = asyncio.Lock()

    async def start(self) -> None:
        if self.sms is not None:
            await self.sms.create_tables()
        self._task = asyncio.create_task(self._run(), name="gsm-ami")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.ami.close()
        await asyncio.gather(*self._saving, return_exceptions=True)

    def status(self) -> ModemStatus:
        status = dataclasses.replace(self._status)
        status.connected = self.ami.linked and self._device_known
        return status

    # ---- what the console asks ------------------------------------------------------------

    async def send_sms(self, number: str, text: str) -> SmsRecord | None:
        """Hand the SMS to the driver and store it; raises AmiError (an AtError) with
        Asterisk's reason, or why AMI is not there."""
        self._require_link()
        await self.ami.send_sms(number, text)
        self._status.sms_sent += 1
        if self.sms is None:
            return None
        return await self.sms.add("out", number, text, parts=_parts(number, text))

    async def ussd(self, code: str) -> UssdReply:
        self._require_link()
        async with self._ussd_lock:  # bounded: each holder's wait ends by its timeouts
            text = await self.ami.send_ussd(code)
        # The drivers' USSD events carry no +CUSD status; an answer that came is "done".
        return UssdReply(status=0, text=text)

    async def recent_sms(self, limit: int = 50) -> list[SmsRecord]:
        return await self.sms.recent(limit) if self.sms is not None else []

    def _require_link(self) -> None:
        if not self.ami.linked:
            why = f" ({self._status.last_error})" if self._status.last_error else ""
            raise AmiError(f"not connected to Asterisk's AMI at {self.config.host}:"
                           f"{self.config.port}{why}")

    # ---- the connection -------------------------------------------------------------------

    async def _run(self) -> None:
        await self._connect()
        while True:
            await self._poll_device()
            self._refresh.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval_s):
                    await self._refresh.wait()

    async def _connect(self) -> None:
        """Until the first login: panoramisk only retries connections it once had."""
        delay, reported = min(1.0, self.retry_max_s), ""
        while True:
            try:
                await self.ami.connect()
            except AmiError as exc:
                self._status.last_error = str(exc)
                if str(exc) != reported:  # once per distinct failure, not every retry
                    log.warning("GSM over AMI: %s; retrying up to every %g s", exc,
                                self.retry_max_s)
                    reported = str(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            self._status.connects += 1
            log.info("GSM over AMI: logged in at %s:%d (%s, device %s)", self.config.host,
                     self.config.port, self._status.driver, self.config.device)
            return

    def _ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._status.last_error = f"the AMI watcher stopped: {task.exception()}"
            log.error("GSM over AMI: the watcher stopped", exc_info=task.exception())

    def _link(self, up: bool, reason: str) -> None:
        if up:
            self._status.connects += 1
            log.info("GSM over AMI: logged in again at %s:%d", self.config.host,
                     self.config.port)
            self._refresh.set()
        else:
            self._status.last_error = reason
            log.warning("GSM over AMI: %s; panoramisk retries every %d s", reason,
                        max(1, self.config.reconnect_s))

    async def _poll_device(self) -> None:
        if not self.ami.linked:
            return
        try:
            entry = await self.ami.device_entry()
        except AmiError as exc:
            self._device_known = False
            self._status.last_error = f"cannot read the device state: {exc}"
            return
        status = self._status
        if entry is None:
            self._device_known = False
            status.last_error = (f"{status.driver} has no device {self.config.device!r} "
                                 f"(see {self.config.driver}.conf)")
            return
        status.at_port = entry.get("DataSetting", "")
        status.pcm_port = entry.get("AudioSetting", "")
        status.state = entry.get("State", "")
        dbm = DBM.search(entry.get("RSSI", ""))
        status.signal_dbm = int(dbm.group(1)) if dbm else None
        registration = entry.get("GSMRegistrationStatus", "")
        status.registration = REGISTRATION.get(registration.lower(),
                                               registration.lower() or "unknown")
        status.operator = entry.get("ProviderName", "")
        status.technology = entry.get("Submode", "") or entry.get("Mode", "")
        status.call = CALL_STATE.get(status.state.lower(), "idle")
        self._device_known = status.state.lower() not in OFFLINE_STATES
        if not self._device_known:
            status.last_error = f"{status.driver} reports {self.config.device}: {status.state}"

    # ---- received SMS ---------------------------------------------------------------------

    def _sms_received(self, number: str, text: str) -> None:
        self._status.sms_received += 1
        log.info("GSM over AMI: SMS from %s (%d characters)", number, len(text))
        if self.sms is None:
            return
        task = asyncio.create_task(self.sms.add("in", number, text,
                                                parts=_parts(number, text)))
        self._saving.add(task)
        task.add_done_callback(self._saved)

    def _saved(self, task: asyncio.Task[Any]) -> None:
        self._saving.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("GSM over AMI: a received SMS could not be stored",
                      exc_info=task.exception())


def _parts(number: str, text: str) -> int:
    """How many SMS parts the text takes (the driver splits it; the count is for the list)."""
    try:
        return len(encode_submit(number, text))
    except (PduError, ValueError):
        return 1  # a sender name or text our encoder refuses; the driver took it anyway
