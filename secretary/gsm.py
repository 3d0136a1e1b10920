"""Wires the GSM line into the secretary process: the SIM7600 driver from the `gsm`
settings, its SMS table on the secretary's database, the console's GSM page, and incoming
calls answered and run by the same secretary as Asterisk's calls (`LineCalls`). With a
channel driver (`gsm.channel_driver`), Asterisk owns the modem and its calls; the console
then gets SMS, USSD and the modem's state through AMI (`AmiGsmService`).

One call at a time: the modem carries one. A caller ringing while a call is up is turned
away by the driver; the secretary answers the next one once the line is free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ari_app.line_call import LineCall, LineCalls
from channels.gsm.ami import AmiConfig
from channels.gsm.ami_service import AmiGsmService
from channels.gsm.at import AtError
from channels.gsm.line import GsmLine
from channels.gsm.modem import ModemConfig, Sim7600
from channels.gsm.pcm import PcmSerialLink
from channels.gsm.service import GsmService
from channels.gsm.store import SmsStore
from media.codecs import Pcm16Codec
from secretary import thinking
from secretary.settings import GsmSettings, Settings
from web.services import ConsoleServices

log = logging.getLogger(__name__)


def modem_config(gsm: GsmSettings) -> ModemConfig:
    return ModemConfig(
        at_port=gsm.at_port, pcm_port=gsm.pcm_port, baudrate=gsm.baudrate,
        pin=gsm.pin.get_secret_value() if gsm.pin else None,
        command_timeout_s=gsm.command_timeout_s, health_interval_s=gsm.health_interval_s,
        reconnect_max_s=gsm.reconnect_max_s)


def ami_config(gsm: GsmSettings) -> AmiConfig:
    driver = "dongle" if gsm.channel_driver == "dongle" else "quectel"
    return AmiConfig(host=gsm.ami_host, port=gsm.ami_port, username=gsm.ami_username,
                     secret=gsm.ami_secret.get_secret_value(), driver=driver,
                     device=gsm.device, timeout_s=gsm.command_timeout_s)


class GsmCalls:
    """Answers the modem's incoming calls and runs each through `LineCalls`."""

    def __init__(self, service: GsmService, lines: LineCalls) -> None:
        self.service = service
        self.lines = lines
        self.codec = Pcm16Codec()
        self.call: LineCall | None = None
        self._task: asyncio.Task[None] | None = None
        self._gone_early = ""  # the caller hung up while we were answering

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def incoming_call(self, number: str) -> None:
        if self.busy:
            log.info("GSM: %r rang while a call is still being finished; not answered", number)
            return
        self._gone_early = ""
        self._task = asyncio.create_task(self._take(number), name=f"gsm-call-{number}")

    def call_ended(self, reason: str) -> None:
        if self.call is not None:
            self.call.end(reason)
        else:
            self._gone_early = reason

    def dtmf(self, digit: str) -> None:
        if self.call is not None:
            self.call.dtmf.put_nowait(digit)

    async def _take(self, number: str) -> None:
        modem = self.service.modem
        # The voice port first: the modem streams from AT+CPCMREG=1 on, and what it says
        # before anyone reads would be lost.
        link = PcmSerialLink(modem.config.pcm_port, self.codec.payload_type,
                             modem.config.baudrate)
        try:
            link.open()
            await modem.answer()
        except AtError as exc:
            log.error("GSM: could not answer %r: %s", number, exc)
            link.close()
            with contextlib.suppress(AtError):
                await modem.hang_up()
            return
        call = self.lines.open(GsmLine(modem), link, self.codec, line_name="gsm",
                               caller_number=number)
        link.on_lost = lambda reason: call.end(f"the modem's voice port went away ({reason})")
        self.call = call
        if self._gone_early:
            call.end(self._gone_early)
        try:
            await self.lines.run(call)
        finally:
            self.call = None

    async def stop(self) -> None:
        if self.call is not None:
            self.call.end("the secretary is shutting down")
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await asyncio.gather(self._task, return_exceptions=True)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def start_gsm(settings: Settings, resources: contextlib.AsyncExitStack,
                    console: ConsoleServices, lines: LineCalls
                    ) -> GsmService | AmiGsmService | None:
    """Run the GSM line for the life of `resources`: our own driver, or with
    chan_dongle/chan_quectel only its SMS/USSD over AMI (its calls come through ARI)."""
    gsm = settings.gsm
    if not gsm.enabled:
        return None
    store = await thinking.open_store(settings, resources) if gsm.sms_store else None
    if gsm.channel_driver != "none":
        ami = AmiGsmService(ami_config(gsm), SmsStore(store) if store is not None else None,
                            retry_max_s=gsm.reconnect_max_s,
                            poll_interval_s=gsm.health_interval_s)
        await ami.start()  # reaches AMI in the background: Asterisk may come up later
        resources.push_async_callback(ami.stop)
        console.gsm = ami
        log.info("GSM line through Asterisk's %s, device %s (AMI %s:%d)",
                 gsm.channel_driver, gsm.device, gsm.ami_host, gsm.ami_port)
        return ami
    service = GsmService(Sim7600(modem_config(gsm)),
                         SmsStore(store) if store is not None else None)
    calls = GsmCalls(service, lines)
    service.calls = calls
    await service.start()  # connects in the background: a missing modem is retried
    resources.push_async_callback(service.stop)
    resources.push_async_callback(calls.stop)
    console.gsm = service
    log.info("GSM line on %s (voice %s)", gsm.at_port, gsm.pcm_port)
    return service
