"""The SIM7600 driver and the GSM service against the simulator: init and status, SIM PIN,
SMS both ways (PDU and text mode, Cyrillic, concatenated, malformed, stored while away),
USSD, calls (caller id, a second caller turned away, keys, hang-ups, dialling), and
recovering from a modem that hangs or disappears."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ari_app.behaviours import EchoBehaviour
from ari_app.line_call import LineCallOptions, LineCalls
from brain.store import Store
from channels.gsm.modem import Sim7600, csq_to_dbm, parse_cusd
from channels.gsm.service import GsmService
from channels.gsm.store import SmsRecord, SmsStore
from media.clock import FrameClock
from secretary.gsm import start_gsm
from secretary.settings import Settings
from tests.gsm.conftest import fast_config, until
from tests.gsm.sim7600 import Sim7600Simulator
from tests.gsm.test_pdu import DELIVER_PRIVET
from web.services import ConsoleServices


class Calls:
    """The call handler's side, recorded (what secretary.gsm would act on)."""

    def __init__(self) -> None:
        self.incoming: list[str] = []
        self.ended: list[str] = []
        self.keys: list[str] = []

    def incoming_call(self, number: str) -> None:
        self.incoming.append(number)

    def call_ended(self, reason: str) -> None:
        self.ended.append(reason)

    def dtmf(self, digit: str) -> None:
        self.keys.append(digit)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = await Store.open(f"sqlite:///{tmp_path / 'secretary.db'}")
    try:
        yield db
    finally:
        await db.close()


async def running(sim: Sim7600Simulator, store: Store | None = None,
                  **config: object) -> GsmService:
    service = GsmService(Sim7600(fast_config(sim, **config)),
                         SmsStore(store) if store is not None else None)
    await service.start()
    return service


def test_signal_conversion() -> None:
    assert [csq_to_dbm(n) for n in (0, 1, 20, 31, 99)] == [-113, -111, -73, -51, None]


def test_cusd_parsing() -> None:
    reply = parse_cusd('+CUSD: 0,"04110430043B0430043D0441",72')
    assert (reply.status, reply.text, reply.meaning) == (0, "Баланс", "done")
    assert parse_cusd('+CUSD: 1,"Balance 12.50 EUR. 1-more",15').text \
        == "Balance 12.50 EUR. 1-more"
    assert parse_cusd("+CUSD: 4").meaning == "not supported"


async def test_initialises_and_reports_status(sim: Sim7600Simulator) -> None:
    service = await running(sim)
    try:
        await service.modem.wait_ready(5)
        status = service.status()
        assert status.connected and status.signal_dbm == -73
        assert (status.registration, status.operator, status.technology) \
            == ("home network", "Sim Telecom", "LTE")
        for command in ("ATE0", "AT+CMEE=2", "AT+CLIP=1", "AT+CMGF=0", "AT+CNMI=2,1,0,0,0",
                        "AT+DDET=1", "AT+CPCMREG=0"):
            assert command in sim.state.commands
        sim.state.rssi = 5
        await until(lambda: service.status().signal_dbm == -103, 3, "signal re-polled")
    finally:
        await service.stop()


async def test_sim_pin(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    locked = await Sim7600Simulator(folder, pin="4321").start()
    try:
        without = await running(locked)
        await until(lambda: "gsm.pin" in without.status().last_error, 3, "a PIN error")
        assert not without.status().connected
        await without.stop()
        with_pin = await running(locked, pin="4321")
        await with_pin.modem.wait_ready(5)
        assert 'AT+CPIN="4321"' in locked.state.commands
        await with_pin.stop()
    finally:
        await locked.close()


async def test_cyrillic_sms_round_trip(sim: Sim7600Simulator, store: Store) -> None:
    service = await running(sim, store)
    try:
        await service.modem.wait_ready(5)
        short = "Привет! Запись на завтра в 10:00 подтверждена."
        long = "Здравствуйте, это секретарь клиники на Бейкер-стрит. " * 3  # 3 parts
        started = time.perf_counter()
        for text in (short, long):
            sent = await service.send_sms("+79161234567", text)
            assert sent is not None and sent.direction == "out"
        await until(lambda: service.status().sms_received == 2, 5, "both texts back")
        round_trip_ms = (time.perf_counter() - started) * 1000
        received = await until_stored(service, 2)
        assert {r.text for r in received} == {short, long}
        assert {r.parts for r in received} == {1, 3}
        assert all(r.number == "+79990001122" and r.complete for r in received)
        assert [s.dcs for s in sim.state.submitted] == [8, 8, 8, 8]
        assert all(s.destination_digits == "79161234567" for s in sim.state.submitted)
        assert sim.state.storage == {}  # read messages are deleted from the SIM
        outgoing = [r for r in await service.recent_sms() if r.direction == "out"]
        assert [r.parts for r in outgoing] == [3, 1]
        print(f"SMS round trip through the simulator: {round_trip_ms:.0f} ms for 4 PDUs")
    finally:
        await service.stop()


async def until_stored(service: GsmService, count: int) -> list[SmsRecord]:
    found: list[SmsRecord] = []

    async def check() -> bool:
        found[:] = [r for r in await service.recent_sms() if r.direction == "in"]
        return len(found) >= count

    deadline = time.monotonic() + 5
    while not await check():
        assert time.monotonic() < deadline, "received SMS were not stored"
        await asyncio.sleep(0.02)
    return found


async def test_text_mode_send(sim: Sim7600Simulator) -> None:
    service = await running(sim)
    try:
        await service.modem.wait_ready(5)
        await service.send_sms("+79161234567", "Call me back", text_mode=True)
        await service.send_sms("+79161234567", "Перезвоните", text_mode=True)
        (n1, body1, cs1), (n2, body2, cs2) = sim.state.text_sms
        assert (n1, body1, cs1) == ("+79161234567", "Call me back", "GSM")
        assert cs2 == "UCS2"
        assert bytes.fromhex(n2).decode("utf-16-be") == "+79161234567"
        assert bytes.fromhex(body2).decode("utf-16-be") == "Перезвоните"
        assert sim.state.cmgf == 0 and sim.state.cscs == "IRA"  # PDU mode again
    finally:
        await service.stop()


async def test_malformed_sms_is_reported_and_the_rest_keeps_working(
        sim: Sim7600Simulator, store: Store) -> None:
    service = await running(sim, store)
    try:
        await service.modem.wait_ready(5)
        sim.deliver("0001000B91")  # a SUBMIT where a DELIVER should be, cut short
        await until(lambda: service.status().malformed_sms == 1, 3, "the bad PDU noticed")
        assert "not an SMS-DELIVER" in service.status().last_error
        sim.deliver(DELIVER_PRIVET)
        [record] = await until_stored(service, 1)
        assert (record.text, record.number) == ("Привет", "+79161234567")
        assert sim.state.storage == {}
    finally:
        await service.stop()


async def test_sms_stored_while_away_is_read_at_start(sim: Sim7600Simulator,
                                                      store: Store) -> None:
    sim.state.storage[3] = (0, DELIVER_PRIVET)
    service = await running(sim, store)
    try:
        [record] = await until_stored(service, 1)
        assert record.text == "Привет"
        await until(lambda: sim.state.storage == {}, 3, "the stored SMS deleted")
    finally:
        await service.stop()


async def test_ussd(sim: Sim7600Simulator) -> None:
    service = await running(sim)
    try:
        await service.modem.wait_ready(5)
        reply = await service.ussd("*100#")
        assert (reply.status, reply.text) == (0, "Баланс: 123.45")
        assert 'AT+CUSD=1,"*100#",15' in sim.state.commands
        with pytest.raises(ValueError, match="not a USSD code"):
            await service.ussd('*100#"; AT+CFUN=0')
    finally:
        await service.stop()


async def test_calls_caller_id_second_caller_keys_and_hang_up(sim: Sim7600Simulator) -> None:
    service = await running(sim)
    calls = service.calls = Calls()
    modem = service.modem
    try:
        await modem.wait_ready(5)
        sim.ring("+79161234567")
        await until(lambda: calls.incoming == ["+79161234567"], 3, "the call announced")
        await modem.answer()
        assert sim.state.call == "active" and sim.state.pcmreg
        sim.ring("+70000000000")  # a second caller while busy
        await until(lambda: sim.state.waiting_rejected == 1, 3, "the second caller rejected")
        assert modem.status.rejected_calls == 1 and calls.incoming == ["+79161234567"]
        sim.press("5")
        sim.press("#")
        await until(lambda: calls.keys == ["5", "#"], 3, "DTMF keys")
        sim.remote_hang_up()
        await until(lambda: len(calls.ended) == 1, 3, "the hang-up reported")
        assert "hung up" in calls.ended[0] and modem.status.call == "idle"
        # A call without caller id is announced after the wait for +CLIP.
        sim.state.call = "ringing"
        sim.urc("RING")
        await until(lambda: calls.incoming == ["+79161234567", ""], 3, "an anonymous call")
        await modem.hang_up()
        assert sim.state.call == "idle" and len(calls.ended) == 1  # ours: not reported
        await modem.dial("+79161234567", answer_within_s=3)
        assert modem.status.call == "active" and sim.state.pcmreg
        await modem.hang_up()
        assert sim.state.call == "idle" and not sim.state.pcmreg
    finally:
        await service.stop()


async def test_a_modem_that_stops_answering_is_reconnected(sim: Sim7600Simulator) -> None:
    service = await running(sim)
    try:
        await service.modem.wait_ready(5)
        sim.state.responding = False
        await until(lambda: not service.status().connected, 5, "the hang noticed")
        assert "stopped answering" in service.status().last_error \
            or "does not answer" in service.status().last_error
        sim.state.responding = True
        await until(lambda: service.status().connected, 5, "reconnected")
        assert service.status().connects == 2 and service.status().last_error == ""
    finally:
        await service.stop()


async def test_unplugged_and_replugged(sim: Sim7600Simulator) -> None:
    service = await running(sim)
    try:
        await service.modem.wait_ready(5)
        sim.send_raw(b"\r\n\xff\xfe garbage \x00\r\n")
        await until(lambda: service.status().garbage_lines == 1, 3, "garbage counted")
        sim.unplug()
        await until(lambda: not service.status().connected, 3, "the loss noticed")
        assert "went away" in service.status().last_error \
            or "cannot open" in service.status().last_error
        await until(lambda: "cannot open" in service.status().last_error, 3,
                    "reconnect attempts failing while unplugged")
        sim.replug()
        await until(lambda: service.status().connected, 5, "reconnected")
        assert service.status().connects == 2 and service.status().garbage_lines == 1
        assert (await service.modem.refresh_status()).signal_dbm == -73
    finally:
        await service.stop()


async def test_the_process_edge_starts_the_line_from_settings(sim: Sim7600Simulator,
                                                              tmp_path: Path) -> None:
    settings = Settings(calls_log_dir=tmp_path / "calls_log", gsm={
        "enabled": True, "at_port": str(sim.at_path), "pcm_port": str(sim.pcm_path),
        "health_interval_s": 0.2})
    (tmp_path / "calls_log").mkdir()
    console = ConsoleServices()
    clock = FrameClock()
    lines = LineCalls(lambda: EchoBehaviour(None), clock,
                      LineCallOptions(calls_log_dir=settings.calls_log_dir))
    async with contextlib.AsyncExitStack() as resources:
        service = await start_gsm(settings, resources, console, lines)
        assert service is not None and console.gsm is service
        await service.modem.wait_ready(5)
        sim.deliver(DELIVER_PRIVET)
        [record] = await until_stored(service, 1)
        assert record.text == "Привет"
    assert not service.status().connected  # stopped with the process's resources
    # with gsm.channel_driver set, start_gsm lends the AMI line instead: test_ami_service.py
