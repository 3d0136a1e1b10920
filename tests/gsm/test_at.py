"""The AT channel on the simulator's pty: results, errors, the SMS prompt, URCs between and
inside responses, garbage, timeouts, and the port going away."""

from __future__ import annotations

import asyncio
import logging

import pytest

from channels.gsm.at import (
    AtChannel,
    AtCommandError,
    AtTimeout,
    PortGone,
    response_prefix,
)
from tests.gsm.conftest import until
from tests.gsm.sim7600 import Sim7600Simulator


async def open_channel(sim: Sim7600Simulator) -> tuple[AtChannel, list[str], list[str]]:
    urcs: list[str] = []
    lost: list[str] = []
    channel = AtChannel(str(sim.at_path), on_urc=urcs.append, on_lost=lost.append)
    channel.open()
    return channel, urcs, lost


def test_response_prefix() -> None:
    assert response_prefix("AT+CSQ") == "+CSQ:"
    assert response_prefix("at+creg?") == "+CREG:"
    assert response_prefix('AT+CUSD=1,"*100#",15') == "+CUSD:"
    assert response_prefix("ATA") is None


async def test_commands_echo_results_and_errors(sim: Sim7600Simulator) -> None:
    channel, _, _ = await open_channel(sim)
    try:
        assert await channel.command("AT") == []  # echo on: the echoed line is not a result
        assert await channel.command("AT+CSQ") == ["+CSQ: 20,99"]
        await channel.command("ATE0")
        assert await channel.command("AT+COPS?") == ['+COPS: 0,0,"Sim Telecom",7']
        with pytest.raises(AtCommandError) as error:
            await channel.command("AT+NOSUCH")
        assert error.value.final == "ERROR"
        with pytest.raises(AtCommandError, match=r"\+CME ERROR: operation not allowed"):
            await channel.command("AT+CPCMREG=1")  # no call up
        with pytest.raises(AtCommandError, match=r"\+CMS ERROR: 321"):
            await channel.command("AT+CMGR=9")
        assert channel.counters.errors == 3
    finally:
        channel.close()


async def test_urcs_idle_and_inside_a_response(sim: Sim7600Simulator) -> None:
    channel, urcs, _ = await open_channel(sim)
    try:
        await channel.command("ATE0")
        sim.urc("RING")
        await until(lambda: urcs == ["RING"], 2, "an idle URC")
        # A +CMTI and a RING arrive between a command's intermediate line and its OK.
        sim.state.responding = False
        task = asyncio.create_task(channel.command("AT+CSQ"))
        await asyncio.sleep(0.05)
        sim.send_raw(b"\r\n+CSQ: 17,99\r\n\r\n+CMTI: \"SM\",4\r\n\r\nRING\r\n\r\nOK\r\n")
        assert await task == ["+CSQ: 17,99"]
        assert urcs == ["RING", '+CMTI: "SM",4', "RING"]
    finally:
        channel.close()


async def test_sms_prompt(sim: Sim7600Simulator) -> None:
    sim.loopback_sms = False
    channel, _, _ = await open_channel(sim)
    try:
        await channel.command("ATE0")
        pdu = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
        lines = await channel.command("AT+CMGS=23", data=pdu.encode())
        assert lines == ["+CMGS: 1"]
        assert sim.state.submitted[0].destination_digits == "46708251358"
    finally:
        channel.close()


async def test_garbage_is_counted_and_logged_once(sim: Sim7600Simulator,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    channel, urcs, _ = await open_channel(sim)
    caplog.set_level(logging.WARNING, logger="channels.gsm.at")
    try:
        await channel.command("ATE0")
        sim.send_raw(b"\xff\xfe\x80\x81\r\n\x00\x01\x02noise\r\n" + bytes(range(128, 200))
                     + b"\r\n")
        sim.send_raw(b"\xc3\x28\r\n")  # invalid UTF-8
        assert await channel.command("AT+CSQ") == ["+CSQ: 20,99"]
        await until(lambda: channel.counters.garbage == 4, 2, "garbage counted")
        assert urcs == []
        warnings = [r for r in caplog.records if "garbage" in r.getMessage()]
        assert len(warnings) == 1
        # A flood without line ends is dropped in one piece; the channel still works.
        sim.send_raw(b"\x07" * 5000)
        assert await channel.command("AT") == []
    finally:
        channel.close()


async def test_a_modem_that_stops_answering(sim: Sim7600Simulator) -> None:
    channel, _, lost = await open_channel(sim)
    try:
        await channel.command("ATE0")
        sim.state.responding = False
        with pytest.raises(AtTimeout, match=r"no answer from the modem within 0\.3 s"):
            await channel.command("AT+CSQ", timeout_s=0.3)
        assert channel.counters.timeouts == 1
        assert channel.is_open and not lost  # a silent modem is not a gone port
        sim.state.responding = True
        assert await channel.command("AT+CSQ") == ["+CSQ: 20,99"]
    finally:
        channel.close()


async def test_the_port_going_away(sim: Sim7600Simulator) -> None:
    channel, _, lost = await open_channel(sim)
    await channel.command("ATE0")
    sim.state.responding = False
    task = asyncio.create_task(channel.command("AT+CSQ", timeout_s=5))
    await asyncio.sleep(0.05)
    sim.unplug()
    with pytest.raises(PortGone):
        await task
    assert len(lost) == 1 and not channel.is_open
    with pytest.raises(PortGone, match="not open"):
        await channel.command("AT")
    with pytest.raises(PortGone, match="cannot open"):
        AtChannel(str(sim.at_path)).open()
    sim.replug()
    sim.state.responding = True
    again, _, _ = await open_channel(sim)
    try:
        assert await again.command("AT+CSQ") == ["+CSQ: 20,99"]
    finally:
        again.close()
