"""The chan_dongle / chan_quectel AMI actions with the real panoramisk client against a
local TCP server that speaks the AMI protocol (tests/gsm/ami_server.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from channels.gsm.ami import AmiConfig, AmiError, AmiGsm
from tests.gsm.ami_server import AmiServer
from tests.gsm.conftest import until
from tests.web.conftest import closed_port


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
