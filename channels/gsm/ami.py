"""SMS and USSD through Asterisk's manager interface, for sites where chan_dongle or a
chan_quectel fork owns the modem (`gsm.channel_driver`): the drivers' AMI actions
DongleSendSMS / DongleSendUSSD and QuectelSendSMS / QuectelSendUSSD, over panoramisk.

The actions only queue the work: "Success" means the driver took it. A USSD answer comes
later as the driver's event (DongleNewUSSD / QuectelNewUSSD), which `send_ussd` waits for;
received SMS arrive as DongleNewSMSBase64 / QuectelNewSMS events, handed to `on_sms`.
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

log = logging.getLogger(__name__)

Driver = Literal["dongle", "quectel"]
PREFIX: dict[str, str] = {"dongle": "Dongle", "quectel": "Quectel"}


class AmiError(Exception):
    """Asterisk refused the login or the action; the message is Asterisk's."""


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
    """`await connect()`, then `send_sms` / `send_ussd`; `close()` at the end."""

    def __init__(self, config: AmiConfig,
                 on_sms: Callable[[str, str], Any] | None = None) -> None:
        self.config = config
        self.on_sms = on_sms
        self.prefix = PREFIX[config.driver]
        self._manager: Manager | None = None
        self._ussd: asyncio.Future[str] | None = None

    async def connect(self) -> None:
        c = self.config
        manager = _Manager(loop=asyncio.get_running_loop(), host=c.host, port=c.port,
                          username=c.username, secret=c.secret, events="on",
                          ping_delay=3600, reconnect_timeout=5)
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
        if reply is None or not reply.success:
            manager.close()
            message = reply.message if reply is not None else "no answer"
            raise AmiError(f"AMI login as {c.username!r} refused: {message}")
        self._manager = manager

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    async def _action(self, name: str, **fields: str) -> dict[str, str]:
        if self._manager is None:
            raise AmiError("not connected to AMI")
        action = {"Action": f"{self.prefix}{name}", "Device": self.config.device, **fields}
        async with asyncio.timeout(self.config.timeout_s):
            reply = await self._manager.send_action(action)
        if isinstance(reply, list):
            reply = reply[0]
        if not reply.success:
            raise AmiError(f"{action['Action']}: {reply.get('Message', reply.response)}")
        return dict(reply.items())

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
        if self.on_sms is not None and event.get("Device") in (None, self.config.device):
            self.on_sms(event.get("From", ""), _decoded(event))


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
