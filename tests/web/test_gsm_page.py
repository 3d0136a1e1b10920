"""The console's GSM page over a real SIM7600 driver on the simulated modem: who may see
and do what, the modem's state, SMS out through the modem and back in, USSD."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from channels.gsm.modem import Sim7600
from channels.gsm.service import GsmService
from channels.gsm.store import SmsStore
from tests.gsm.conftest import fast_config, until
from tests.gsm.sim7600 import Sim7600Simulator
from tests.web.conftest import ADMIN, VIEWER, Console, csrf_token, login
from web.state import SERVICES


@pytest.fixture
async def modem(console: Console, tmp_path: Path) -> AsyncIterator[Sim7600Simulator]:
    """The simulated modem, driven by a GSM service lent to the console (as the phone
    process lends it), storing SMS through the phone side's own store."""
    folder = tmp_path / "dev"
    folder.mkdir()
    sim = await Sim7600Simulator(folder).start()
    service = GsmService(Sim7600(fast_config(sim)), SmsStore(console.writer))
    await service.start()
    await service.modem.wait_ready(5)
    console.client.app[SERVICES].gsm = service
    try:
        yield sim
    finally:
        await service.stop()
        await sim.close()


async def test_the_page_needs_a_login(console: Console) -> None:
    response = await console.client.get("/gsm", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")
    response = await console.client.post("/gsm/sms", data={"number": "+100", "text": "x"},
                                         allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")


async def test_a_viewer_sees_the_modem_but_cannot_send(console: Console,
                                                       modem: Sim7600Simulator) -> None:
    assert (await login(console.client, *VIEWER)).status == 303
    page = await (await console.client.get("/gsm")).text()
    assert "connected" in page and "-73 dBm" in page and "Sim Telecom" in page
    assert 'action="/gsm/sms"' not in page  # no forms for a viewer
    token = await csrf_token(console.client, "/gsm")
    for path, data in (("/gsm/sms", {"number": "+79161234567", "text": "hi"}),
                       ("/gsm/ussd", {"code": "*100#"})):
        response = await console.client.post(path, data={**data, "csrf_token": token})
        assert response.status == 403
    assert sim_commands_with(modem, "AT+CMGS") == [] and sim_commands_with(modem, "AT+CUSD") == []


async def test_an_admin_sends_an_sms_and_runs_ussd(console: Console,
                                                   modem: Sim7600Simulator) -> None:
    client = console.client
    assert (await login(client, *ADMIN)).status == 303
    token = await csrf_token(client, "/gsm")
    text = "Ваша запись на завтра подтверждена"
    response = await client.post("/gsm/sms", allow_redirects=False, data={
        "number": "+7 916 123 45 67", "text": text, "csrf_token": token})
    assert response.status == 303 and response.headers["Location"] == "/gsm?sent=1"
    [submitted] = modem.state.submitted
    assert submitted.destination_digits == "79161234567" and submitted.dcs == 8
    # the simulator's network delivers it back to the modem's own number
    await until(lambda: console.client.app[SERVICES].gsm.status().sms_received == 1, 5,
                "the SMS back")
    page = await (await client.get("/gsm?sent=1")).text()
    assert "The SMS was sent." in page
    assert page.count(text) == 2 and "+79990001122" in page and "+79161234567" in page

    response = await client.post("/gsm/ussd", data={"code": "*100#", "csrf_token": token})
    assert response.status == 200
    assert "Баланс: 123.45" in await response.text()


async def test_bad_input_and_no_modem(admin: TestClient) -> None:
    token = await csrf_token(admin, "/gsm")
    page = await (await admin.get("/gsm")).text()
    assert "No GSM modem runs in this process" in page
    response = await admin.post("/gsm/sms", data={"number": "call me", "text": "x",
                                                  "csrf_token": token})
    assert response.status == 400 and "Enter a phone number" in await response.text()
    response = await admin.post("/gsm/ussd", data={"code": "*100#;ATH", "csrf_token": token})
    assert response.status == 400
    response = await admin.post("/gsm/sms", data={"number": "+79161234567", "text": "hi",
                                                  "csrf_token": token})
    assert response.status == 503 and "gsm.enabled" in await response.text()
    response = await admin.post("/gsm/sms", data={"number": "+79161234567", "text": "hi"})
    assert response.status == 403  # no CSRF token


def sim_commands_with(sim: Sim7600Simulator, prefix: str) -> list[str]:
    return [c for c in sim.state.commands if c.startswith(prefix)]
