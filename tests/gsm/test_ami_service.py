"""The GSM line over AMI (`AmiGsmService`) with the real panoramisk client against the AMI
stand-in on 127.0.0.1 and a real SQLite store: SMS out and in, USSD, the driver's view of
the modem, and Asterisk unreachable, lost and back."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from brain.store import Store
from channels.gsm.ami import AmiConfig, AmiError
from channels.gsm.ami_service import AmiGsmService
from channels.gsm.errors import AtError
from channels.gsm.store import SmsRecord, SmsStore
from secretary.gsm import start_gsm
from secretary.settings import GsmSettings, Settings
from tests.gsm.ami_server import AmiServer
from tests.gsm.conftest import until
from tests.web.conftest import closed_port
from web.services import ConsoleServices


def ami_config(port: int, driver: str = "dongle", **fields: object) -> AmiConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": port, "username": "gsm", "secret": "s3cret",
        "driver": driver, "device": "sim7600", "timeout_s": 3.0, "ussd_timeout_s": 3.0,
        "reconnect_s": 1, "sms_twin_wait_s": 0.3, **fields}
    return AmiConfig(**values)  # type: ignore[arg-type]


async def stored_sms(sms: SmsStore, count: int, within_s: float = 3.0) -> list[SmsRecord]:
    """The stored SMS once there are `count` of them (the service stores in the background);
    then a moment more, so that one stored twice would show."""
    deadline = time.monotonic() + within_s
    while len(await sms.recent()) < count:
        assert time.monotonic() < deadline, f"{count} SMS not stored within {within_s} s"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)
    return await sms.recent()


@pytest.fixture
async def ami() -> AsyncIterator[AmiServer]:
    async with AmiServer() as server:
        yield server


@pytest.fixture
async def sms(tmp_path: Path) -> AsyncIterator[SmsStore]:
    store = await Store.open(f"sqlite:///{tmp_path / 'secretary.db'}")
    try:
        yield SmsStore(store)
    finally:
        await store.close()


@pytest.fixture
async def running(ami: AmiServer, sms: SmsStore) -> AsyncIterator[AmiGsmService]:
    service = AmiGsmService(ami_config(ami.port, ussd_timeout_s=0.5), sms, retry_max_s=0.5,
                            poll_interval_s=0.3)
    await service.start()
    try:
        await until(lambda: service.status().connected, 5, "the AMI login")
        yield service
    finally:
        await service.stop()


@pytest.mark.parametrize("driver", ["dongle", "quectel"])
async def test_status_and_an_sms_out(ami: AmiServer, sms: SmsStore, driver: str) -> None:
    service = AmiGsmService(ami_config(ami.port, driver), sms, poll_interval_s=5)
    await service.start()
    try:
        await until(lambda: service.status().connected, 5, "the AMI login")
        status = service.status()
        assert (status.at_port, status.pcm_port) == ("/dev/sim7600-at", "/dev/sim7600-pcm")
        assert (status.signal_dbm, status.registration, status.operator, status.technology,
                status.call, status.last_error) \
            == (-73, "home network", "Sim Telecom", "LTE", "idle", "")
        text = "Ваша запись на завтра подтверждена"
        record = await service.send_sms("+79161234567", text)
    finally:
        await service.stop()
    prefix = "Dongle" if driver == "dongle" else "Quectel"
    [action] = ami.sent("SendSMS")
    assert (action["Action"], action["Device"], action["Number"], action["Message"]) \
        == (f"{prefix}SendSMS", "sim7600", "+79161234567", text)
    assert ami.sent("ShowDevices")[0]["Device"] == "sim7600"
    assert record is not None and (record.direction, record.number, record.text) \
        == ("out", "+79161234567", text)
    [stored] = await sms.recent()
    assert stored == record and service.status().sms_sent == 1


async def test_incoming_sms_stored_once(ami: AmiServer, sms: SmsStore,
                                        running: AmiGsmService) -> None:
    # chan_dongle reports one SMS twice: the plain event (newlines cut into lines), then
    # the base64 one, which is kept as it is exact.
    text = "Перезвоните мне\nпосле обеда"
    ami.event(Event="DongleNewSMS", Device="sim7600", From="+79161234567", LineCount="2",
              MessageLine0="Перезвоните мне", MessageLine1="после обеда")
    ami.event(Event="DongleNewSMSBase64", Device="sim7600", From="+79161234567",
              Message=base64.b64encode(text.encode()).decode())
    ami.event(Event="DongleNewSMSBase64", Device="other-modem", From="+100",
              Message=base64.b64encode(b"not ours").decode())
    await until(lambda: running.status().sms_received == 1, 3, "the SMS event")
    [stored] = await stored_sms(sms, 1)
    assert (stored.direction, stored.number, stored.text) == ("in", "+79161234567", text)


async def test_plain_sms_event_alone_counts(ami: AmiServer, sms: SmsStore) -> None:
    """A driver that sends only the plain event (chan_quectel forks) still gets its SMS
    stored, once the wait for a base64 twin is over."""
    service = AmiGsmService(ami_config(ami.port, "quectel"), sms, poll_interval_s=5)
    await service.start()
    try:
        await until(lambda: service.status().connected, 5, "the AMI login")
        ami.event(Event="QuectelNewSMS", Device="sim7600", From="+79161234567",
                  Message="Hello there")
        [stored] = await stored_sms(sms, 1)
    finally:
        await service.stop()
    assert (stored.direction, stored.text) == ("in", "Hello there")


async def test_ussd_round_trip_and_no_answer(ami: AmiServer, running: AmiGsmService) -> None:
    reply = await running.ussd("*100#")
    assert reply.text == "Баланс 123.45 р.\nТариф: Простой" and reply.meaning == "done"
    assert ami.sent("SendUSSD")[0]["USSD"] == "*100#"
    ami.ussd_answers = False
    with pytest.raises(AmiError, match=r"USSD \*101#: no answer from the network"):
        await running.ussd("*101#")


async def test_ami_down_is_clear(sms: SmsStore) -> None:
    port = closed_port()
    service = AmiGsmService(ami_config(port), sms, retry_max_s=0.5)
    await service.start()
    try:
        await until(lambda: service.status().last_error, 5, "the failed connection")
        status = service.status()
        assert not status.connected
        assert status.last_error.startswith(f"cannot reach Asterisk's AMI at 127.0.0.1:{port}")
        with pytest.raises(AmiError, match=f"not connected to Asterisk's AMI at "
                                           f"127.0.0.1:{port} \\(cannot reach") as caught:
            await service.send_sms("+79161234567", "hi")
        assert isinstance(caught.value, AtError)  # what the console shows as "not sent"
        with pytest.raises(AmiError, match="not connected"):
            await service.ussd("*100#")
    finally:
        await service.stop()
    assert await sms.recent() == []  # nothing stored as sent


@pytest.mark.parametrize("how", ["dropped", "shutdown"])
async def test_lost_and_back(ami: AmiServer, running: AmiGsmService, how: str) -> None:
    # Asterisk restarts: panoramisk reconnects and logs in again by itself
    if how == "shutdown":
        ami.event(Event="Shutdown", Privilege="system,all", Shutdown="Cleanly", Restart="True")
    else:
        ami.drop()
    await until(lambda: not running.status().connected, 3, "the loss noticed")
    assert running.status().last_error.startswith(f"AMI connection to 127.0.0.1:{ami.port} "
                                                  "lost")
    if how == "shutdown":
        assert running.status().last_error.endswith(": Asterisk is shutting down")
    with pytest.raises(AmiError, match="not connected"):
        await running.send_sms("+79161234567", "hi")
    await until(lambda: running.status().connected, 5, "the reconnect")
    assert running.status().connects == 2
    await running.send_sms("+79161234567", "back")
    assert [a["Message"] for a in ami.sent("SendSMS")] == ["back"]


async def test_the_driver_without_our_device(ami: AmiServer, running: AmiGsmService) -> None:
    ami.devices["Dongle"][0]["State"] = "Not connected"
    await until(lambda: not running.status().connected, 3, "the device state polled")
    assert running.status().last_error == "chan_dongle reports sim7600: Not connected"
    ami.devices["Dongle"] = []
    await until(lambda: "has no device" in running.status().last_error, 3, "the list polled")
    assert running.status().last_error == "chan_dongle has no device 'sim7600' " \
        "(see dongle.conf)"
    assert running.ami.linked  # AMI itself is fine; sending is still up to the driver


async def test_start_gsm_lends_the_ami_line_to_the_console(tmp_path: Path) -> None:
    """`gsm.channel_driver: dongle`: the secretary starts the AMI service from the settings'
    AMI fields and lends it to the console; it stops with the process's resources."""
    async with AmiServer(username="secretary-gsm", secret="ami-secret") as server:
        settings = Settings(
            state_dir=tmp_path / "state", calls_log_dir=tmp_path,
            database=f"sqlite:///{tmp_path / 'secretary.db'}",
            gsm=GsmSettings(enabled=True, channel_driver="dongle", ami_port=server.port,
                            ami_secret="ami-secret", device="sim7600"))  # type: ignore[arg-type]
        console = ConsoleServices()
        async with contextlib.AsyncExitStack() as resources:
            # no LineCalls: with a channel driver the modem's calls come through ARI
            service = await start_gsm(settings, resources, console, None)  # type: ignore[arg-type]
            assert isinstance(service, AmiGsmService) and console.gsm is service
            await until(lambda: service.status().connected, 5, "the AMI login")
            await service.send_sms("+79161234567", "hi")
        assert not service.ami.linked
    assert [a["Username"] for a in server.actions if a.get("Action") == "Login"] \
        == ["secretary-gsm"]
    assert [a["Number"] for a in server.sent("SendSMS")] == ["+79161234567"]
