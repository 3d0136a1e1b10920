"""SMS and USSD through Asterisk's manager interface, for sites where chan_dongle or a
chan_quectel fork owns the modem (`gsm.channel_driver`): the drivers' AMI actions
DongleSendSMS / DongleSendUSSD and QuectelSendSMS / QuectelSendUSSD, over panoramisk.

The actions only queue the work: "Success" means the driver took it. A USSD answer comes
later as the driver's event (DongleNewUSSD / QuectelNewUSSD), which `send_ussd` waits for;
received SMS arrive as DongleNewSMSBase64 / QuectelNewSMS events, handed to `on_sms`.
`device_entry` reads the driver's own view of the modem (`DongleShowDevices`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from panoramisk import Manager

from channels.gsm.errors import AtError

log = logging.getLogger(__name__)

Driver = Literal["dongle", "quectel"]
PREFIX: dict[str, str] = {"dongle": "Dongle", "quectel": "Quectel"}


class AmiError(AtError):
    """Asterisk could not be reached, or refused the login or the action (the message is
    Asterisk's). An AtError: to whoever asked (the console), the modem line failed to do it,
    whichever driver was in between."""


@dataclass(frozen=True)
class AmiConfig:
    host: str
    port: int
    username: str
    secret: str
    driver: Driver
    device: str  # the driver's device name, e.g. [sim7600] in dongle.conf
    timeout_s: float = 10.0
    ussd_timeout_s: float = 30.0
    reconnect_s: int = 5  # panoramisk's fixed retry interval after a lost connection (>= 1)
    # chan_dongle reports each SMS twice (DongleNewSMS, then DongleNewSMSBase64): a plain
    # event waits this long for its exact base64 twin before it counts on its own.
    sms_twin_wait_s: float = 1.0


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's manager, except that once closed it stops reconnecting (it retries
    failed connections forever otherwise, also after we gave up on them)."""

    closed = False

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        return None if self.closed else super().connect(*args, **kwargs)

    def close(self) -> None:
        self.closed = True
        super().close()


class AmiGsm:
    """`await connect()`, then `send_sms` / `send_ussd`; `close()` at the end. Once connected,
    panoramisk reconnects by itself; `on_link(up, reason)` hears each loss and re-login."""

    def __init__(self, config: AmiConfig,
                 on_sms: Callable[[str, str], Any] | None = None,
                 on_link: Callable[[bool, str], Any] | None = None) -> None:
        self.config = config
        self.on_sms = on_sms
        self.on_link = on_link
        self.prefix = PREFIX[config.driver]
        self.linked = False  # logged in on a live connection
        self._manager: Manager | None = None
        self._ussd: asyncio.Future[str] | None = None
        self._base64_sms = False  # the driver sends *Base64 SMS events: plain ones are twins
        self._plain_sms: dict[tuple[str, str], asyncio.TimerHandle] = {}

    async def connect(self) -> None:
        c = self.config
        manager = _Manager(loop=asyncio.get_running_loop(), host=c.host, port=c.port,
                          username=c.username, secret=c.secret, events="on",
                          ping_delay=3600, reconnect_timeout=max(1, c.reconnect_s),
                          on_login=self._logged_in, on_disconnect=self._lost)
        manager.register_event(f"{self.prefix}NewUSSD*", self._on_ussd)
        manager.register_event(f"{self.prefix}NewSMS*", self._on_sms)
        try:
            async with asyncio.timeout(c.timeout_s):
                await manager.connect()
                login = manager.authenticated_future
                reply = await login if login is not None else None
        except (OSError, TimeoutError) as exc:
            manager.close()
            raise AmiError(f"cannot reach Asterisk's AMI at {c.host}:{c.port}: "
                           f"{exc or 'timed out'}") from None
        except BaseException:  # cancelled: no panoramisk left behind, retrying on its own
            manager.close()
            raise
        if reply is None or not reply.success:
            manager.close()
            message = reply.message if reply is not None else "no answer"
            raise AmiError(f"AMI login as {c.username!r} refused: {message}")
        self._manager = manager
        self.linked = True

    def close(self) -> None:
        self.linked = False
        for timer in self._plain_sms.values():
            timer.cancel()
        self._plain_sms.clear()
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    def _logged_in(self, _: Manager) -> None:
        if self._manager is not None and not self.linked:
            self.linked = True
            if self.on_link is not None:
                self.on_link(True, "")

    def _lost(self, _: Manager, exc: Any) -> None:
        if self._manager is None:
            return  # our own close()
        self.linked = False
        if self.on_link is not None:
            reason = f"AMI connection to {self.config.host}:{self.config.port} lost"
            if isinstance(exc, BaseException) and str(exc):
                reason += f": {exc}"
            elif exc is not None and not isinstance(exc, BaseException):
                reason += ": Asterisk is shutting down"  # panoramisk hands on its Shutdown event
            self.on_link(False, reason)

    async def _send(self, name: str, **fields: str) -> list[Any]:
        """The action's messages: the response, then any events of a list it starts."""
        if self._manager is None or not self.linked:
            raise AmiError("not connected to Asterisk's AMI")
        action = {"Action": f"{self.prefix}{name}", "Device": self.config.device, **fields}
        try:
            async with asyncio.timeout(self.config.timeout_s):
                reply = await self._manager.send_action(action)
        except TimeoutError:
            # the timeout cancelled panoramisk's future, so a reconnect will not resend it
            raise AmiError(f"{action['Action']}: no answer from Asterisk within "
                           f"{self.config.timeout_s:g} s") from None
        replies = reply if isinstance(reply, list) else [reply]
        if not replies[0].success:
            raise AmiError(f"{action['Action']}: "
                           f"{replies[0].get('Message', replies[0].response)}")
        return replies

    async def _action(self, name: str, **fields: str) -> dict[str, str]:
        return dict((await self._send(name, **fields))[0].items())

    async def device_entry(self) -> dict[str, str] | None:
        """The driver's `*DeviceEntry` for our device (its settings, state, signal,
        registration, operator), or None when the driver does not know the device."""
        for message in (await self._send("ShowDevices"))[1:]:
            if str(message.get("Event", "")).endswith("DeviceEntry") \
                    and message.get("Device") == self.config.device:
                return {str(k): str(v) for k, v in message.items()}
        return None

    async def send_sms(self, number: str, text: str) -> dict[str, str]:
        """Queue an SMS on the driver (it splits and encodes long or Cyrillic texts)."""
        return await self._action("SendSMS", Number=number, Message=text.replace("\n", " "))

    async def send_ussd(self, code: str) -> str:
        """Send a USSD code and wait for the network's answer (the driver's event)."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._ussd = future
        try:
            await self._action("SendUSSD", USSD=code)
            async with asyncio.timeout(self.config.ussd_timeout_s):
                return await future
        except TimeoutError:
            raise AmiError(f"USSD {code}: no answer from the network within "
                           f"{self.config.ussd_timeout_s:g} s") from None
        finally:
            self._ussd = None

    def _on_ussd(self, _: Manager, event: Any) -> None:
        if event.get("Device") not in (None, self.config.device):
            return
        text = _decoded(event)
        if self._ussd is not None and not self._ussd.done():
            self._ussd.set_result(text)
        else:
            log.info("AMI: USSD from the network: %s", text)

    def _on_sms(self, _: Manager, event: Any) -> None:
        if self.on_sms is None or event.get("Device") not in (None, self.config.device):
            return
        number, text = str(event.get("From", "")), _decoded(event)
        if str(event.get("Event", "")).endswith("Base64"):
            self._base64_sms = True
            # its plain twin (blank lines and \r lost to MessageLineN) is waiting: drop it
            for key in [k for k in self._plain_sms if k[0] == number]:
                self._plain_sms.pop(key).cancel()
            self.on_sms(number, text)
        elif not self._base64_sms:
            key = (number, text)
            self._plain_sms[key] = asyncio.get_running_loop().call_later(
                self.config.sms_twin_wait_s, self._plain_alone, key)

    def _plain_alone(self, key: tuple[str, str]) -> None:
        if self._plain_sms.pop(key, None) is not None and self.on_sms is not None:
            self.on_sms(*key)


def _decoded(event: Any) -> str:
    """The text of a driver event: `Message` (base64 in the *Base64 events) or
    `MessageLine0..n` (USSD answers split over lines)."""
    if "MessageLine0" in event:
        return "\n".join(event[f"MessageLine{i}"] for i in range(int(event.get("LineCount", 1)))
                         if f"MessageLine{i}" in event)
    text = str(event.get("Message", ""))
    if str(event.get("Event", "")).endswith("Base64"):
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            return base64.b64decode(text, validate=True).decode("utf-8")
    return text
