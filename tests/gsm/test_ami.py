"""The chan_dongle / chan_quectel AMI actions with the real panoramisk client against a
local TCP server that speaks the AMI protocol (banner, Login, Action/Response, events)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest

from channels.gsm.ami import AmiConfig, AmiError, AmiGsm
from tests.gsm.conftest import until
from tests.web.conftest import closed_port

EOL = "\r\n"


class AmiServer:
    """Enough of Asterisk's manager: one user, the drivers' SMS/USSD actions, events."""

    def __init__(self, username: str = "gsm", secret: str = "s3cret",
                 device: str = "sim7600") -> None:
        self.username, self.secret, self.device = username, secret, device
        self.actions: list[dict[str, str]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> AmiServer:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()

    def event(self, **fields: str) -> None:
        for writer in self.writers:
            writer.write(_message(fields))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/7.0.3\r\n")
        logged_in = False
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            fields = dict(line.split(": ", 1) for line in raw.decode().strip().split(EOL)
                          if ": " in line)
            self.actions.append(fields)
            action, action_id = fields.get("Action", ""), fields.get("ActionID", "")
            reply = {"ActionID": action_id}
            if action == "Login":
                logged_in = (fields.get("Username"), fields.get("Secret")) \
                    == (self.username, self.secret)
                reply |= ({"Response": "Success", "Message": "Authentication accepted"}
                          if logged_in else
                          {"Response": "Error", "Message": "Authentication failed"})
            elif not logged_in:
                reply |= {"Response": "Error", "Message": "Permission denied"}
            elif action.endswith(("SendSMS", "SendUSSD")):
                if fields.get("Device") != self.device:
                    reply |= {"Response": "Error", "Message": "Device not found"}
                else:
                    what = "SMS" if action.endswith("SMS") else "USSD"
                    reply |= {"Response": "Success",
                              "Message": f"[{self.device}] {what} queued for send",
                              "ID": "0x55d0c8a1b2c0"}
            else:
                reply |= {"Response": "Error", "Message": "Invalid/unknown command"}
            writer.write(_message(reply))
            if action.endswith("SendUSSD") and reply["Response"] == "Success":
                prefix = action.removesuffix("SendUSSD")
                writer.write(_message({"Event": f"{prefix}NewUSSD", "Privilege": "call,all",
                                       "Device": self.device, "LineCount": "2",
                                       "MessageLine0": "Баланс 123.45 р.",
                                       "MessageLine1": "Тариф: Простой"}))


def _message(fields: dict[str, str]) -> bytes:
    return (EOL.join(f"{k}: {v}" for k, v in fields.items()) + EOL + EOL).encode()


@pytest.fixture
async def ami() -> AsyncIterator[AmiServer]:
    async with AmiServer() as server:
        yield server


def config(server: AmiServer, driver: str = "dongle", **fields: object) -> AmiConfig:
    values: dict[str, object] = {"host": "127.0.0.1", "port": server.port, "username": "gsm",
                                 "secret": "s3cret", "driver": driver, "device": "sim7600",
                                 "timeout_s": 3.0, "ussd_timeout_s": 3.0, **fields}
    return AmiConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("driver", ["dongle", "quectel"])
async def test_sms_and_ussd_actions(ami: AmiServer, driver: str) -> None:
    client = AmiGsm(config(ami, driver))
    await client.connect()
    try:
        reply = await client.send_sms("+79161234567", "Привет!\nДо встречи")
        assert reply["Message"] == "[sim7600] SMS queued for send"
        ussd = await client.send_ussd("*100#")
        assert ussd == "Баланс 123.45 р.\nТариф: Простой"
    finally:
        client.close()
    prefix = "Dongle" if driver == "dongle" else "Quectel"
    login, sms, ussd_action = ami.actions[:3]
    assert (login["Action"], login["Username"], login["Secret"]) == ("Login", "gsm", "s3cret")
    assert sms["Action"] == f"{prefix}SendSMS"
    assert (sms["Device"], sms["Number"], sms["Message"]) \
        == ("sim7600", "+79161234567", "Привет! До встречи")
    assert (ussd_action["Action"], ussd_action["USSD"]) == (f"{prefix}SendUSSD", "*100#")


async def test_incoming_sms_event(ami: AmiServer) -> None:
    received: list[tuple[str, str]] = []
    client = AmiGsm(config(ami), on_sms=lambda number, text: received.append((number, text)))
    await client.connect()
    try:
        ami.event(Event="DongleNewSMSBase64", Privilege="call,all", Device="sim7600",
                  From="+79161234567",
                  Message=base64.b64encode("Перезвоните мне".encode()).decode())
        await until(lambda: received, 3, "the SMS event")
        assert received == [("+79161234567", "Перезвоните мне")]
    finally:
        client.close()


async def test_errors_are_clear(ami: AmiServer) -> None:
    with pytest.raises(AmiError, match="login as 'gsm' refused: Authentication failed"):
        await AmiGsm(config(ami, secret="wrong")).connect()
    with pytest.raises(AmiError, match="cannot reach Asterisk's AMI"):
        await AmiGsm(config(ami, port=closed_port())).connect()
    client = AmiGsm(config(ami, device="dongle9"))
    await client.connect()
    try:
        with pytest.raises(AmiError, match="DongleSendSMS: Device not found"):
            await client.send_sms("+100", "hi")
    finally:
        client.close()
