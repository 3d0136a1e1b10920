"""The GSM line as the rest of the secretary uses it: the modem kept connected, every SMS
received or sent stored, sending SMS and USSD for the console, and the modem's calls handed
to whoever runs them (`calls`, set by the process edge).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from channels.gsm.modem import ModemEvents, ModemStatus, Sim7600, UssdReply
from channels.gsm.pdu import SmsMessage, encode_submit
from channels.gsm.store import SmsRecord, SmsStore

log = logging.getLogger(__name__)


class CallHandler(Protocol):
    def incoming_call(self, number: str) -> None: ...

    def call_ended(self, reason: str) -> None: ...

    def dtmf(self, digit: str) -> None: ...


class ConsoleGsm(Protocol):
    """What the console's GSM page uses: `GsmService` (our driver) or, when Asterisk's
    chan_dongle/chan_quectel owns the modem, `ami_service.AmiGsmService`."""

    def status(self) -> ModemStatus: ...

    async def send_sms(self, number: str, text: str) -> SmsRecord | None: ...

    async def ussd(self, code: str) -> UssdReply: ...


class GsmService(ModemEvents):
    def __init__(self, modem: Sim7600, sms: SmsStore | None = None) -> None:
        self.modem = modem
        modem.events = self
        self.sms = sms
        self.calls: CallHandler | None = None
        self._saving: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        if self.sms is not None:
            await self.sms.create_tables()
        self.modem.start()

    async def stop(self) -> None:
        await self.modem.stop()
        await asyncio.gather(*self._saving, return_exceptions=True)

    def status(self) -> ModemStatus:
        return self.modem.status

    # ---- what the console asks ------------------------------------------------------------

    async def send_sms(self, number: str, text: str, *, text_mode: bool = False
                       ) -> SmsRecord | None:
        """Send and store; raises the driver's errors (AtError, PduError, ValueError)."""
        parts = 1 if text_mode else len(encode_submit(number, text))
        await self.modem.send_sms(number, text, text_mode=text_mode)
        if self.sms is None:
            return None
        return await self.sms.add("out", number, text, parts=parts)

    async def ussd(self, code: str) -> UssdReply:
        return await self.modem.ussd(code)

    async def recent_sms(self, limit: int = 50) -> list[SmsRecord]:
        return await self.sms.recent(limit) if self.sms is not None else []

    # ---- ModemEvents ------------------------------------------------------------------

    def incoming_call(self, number: str) -> None:
        if self.calls is None:
            log.warning("GSM: call from %r, but nothing here takes calls", number)
            return
        self.calls.incoming_call(number)

    def call_ended(self, reason: str) -> None:
        if self.calls is not None:
            self.calls.call_ended(reason)

    def dtmf(self, digit: str) -> None:
        if self.calls is not None:
            self.calls.dtmf(digit)

    def sms_received(self, message: SmsMessage) -> None:
        log.info("GSM: SMS from %s (%d part(s), %d characters)", message.sender,
                 message.parts, len(message.text))
        if self.sms is None:
            return
        task = asyncio.create_task(self.sms.add(
            "in", message.sender, message.text, parts=message.parts,
            complete=message.complete, at=message.timestamp))
        self._saving.add(task)
        task.add_done_callback(self._saved)

    def _saved(self, task: asyncio.Task[Any]) -> None:
        self._saving.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("GSM: a received SMS could not be stored", exc_info=task.exception())
