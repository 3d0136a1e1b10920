"""The GSM line against the SIM7600 simulator on pseudo-terminals in tmp_path."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from channels.gsm.modem import ModemConfig
from tests.gsm.sim7600 import Sim7600Simulator


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim7600Simulator]:
    simulator = await Sim7600Simulator(tmp_path).start()
    try:
        yield simulator
    finally:
        await simulator.close()


def fast_config(sim: Sim7600Simulator, **fields: object) -> ModemConfig:
    """Timeouts in tenths of seconds, so failures and recoveries happen within a test."""
    values: dict[str, object] = {
        "at_port": str(sim.at_path), "pcm_port": str(sim.pcm_path),
        "command_timeout_s": 1.0, "health_interval_s": 0.2, "reconnect_initial_s": 0.1,
        "reconnect_max_s": 0.4, "ring_wait_clip_s": 0.3, "ussd_timeout_s": 2.0,
        "sms_timeout_s": 2.0, "unanswered_limit": 2, **fields}
    return ModemConfig(**values)  # type: ignore[arg-type]


async def until(condition: Callable[[], object], within_s: float = 5.0,
                what: str = "the condition") -> None:
    """Poll `condition` every 20 ms; fail the test when it stays false for `within_s`."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within_s} s")
        await asyncio.sleep(0.02)
