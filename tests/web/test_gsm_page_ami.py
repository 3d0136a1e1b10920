"""The console's GSM page when Asterisk's chan_dongle owns the modem: the page is lent an
`AmiGsmService` (real panoramisk) talking to the AMI stand-in on 127.0.0.1, and shows the
driver's view of the modem, sends an admin's SMS and runs USSD through AMI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from channels.gsm.ami import AmiConfig
from channels.gsm.ami_service import AmiGsmService
from channels.gsm.store import SmsStore
from tests.gsm.ami_server import AmiServer
from tests.gsm.conftest import until
from tests.web.conftest import ADMIN, VIEWER, Console, closed_port, csrf_token, login
from web.state import SERVICES


def ami_config(port: int) -> AmiConfig:
    return AmiConfig(host="127.0.0.1", port=port, username="gsm", secret="s3cret",
                     driver="dongle", device="sim7600", timeout_s=3.0, ussd_timeout_s=3.0,
                     reconnect_s=1)


@pytest.fixture
async def ami(console: Console) -> AsyncIterator[AmiServer]:
    """The stand-in, and the service lent to the console as the phone process lends it,
    storing SMS through the phone side's own store."""
    async with AmiServer() as server:
        service = AmiGsmService(ami_config(server.port), SmsStore(console.writer),
                                poll_interval_s=5)
        await service.start()
        console.client.app[SERVICES].gsm = service
        try:
            await until(lambda: service.status().connected, 5, "the AMI login")
            yield server
        finally:
            await service.stop()


async def test_a_viewer_sees_the_modem_through_the_driver(console: Console,
                                                         ami: AmiServer) -> None:
    assert (await login(console.client, *VIEWER)).status == 303
    page = await (await console.client.get("/gsm")).text()
    assert "No GSM modem runs" not in page and ">connected<" in page
    assert "<code>sim7600</code>" in page and "chan_dongle: Free" in page
    assert "<code>/dev/sim7600-at</code> AT" in page
    assert "-73 dBm" in page and "home network, Sim Telecom (LTE)" in page
    assert 'action="/gsm/sms"' not in page  # no forms for a viewer
    token = await csrf_token(console.client, "/gsm")
    response = await console.client.post("/gsm/sms", data={
        "number": "+79161234567", "text": "hi", "csrf_token": token})
    assert response.status == 403 and ami.sent("SendSMS") == []


async def test_an_admin_sends_an_sms_and_runs_ussd(console: Console, ami: AmiServer) -> None:
    client = console.client
    assert (await login(client, *ADMIN)).status == 303
    token = await csrf_token(client, "/gsm")
    text = "Ваша запись на завтра подтверждена"
    response = await client.post("/gsm/sms", allow_redirects=False, data={
        "number": "+7 916 123 45 67", "text": text, "csrf_token": token})
    assert response.status == 303 and response.headers["Location"] == "/gsm?sent=1"
    [action] = ami.sent("SendSMS")
    assert (action["Action"], action["Device"], action["Number"], action["Message"]) \
        == ("DongleSendSMS", "sim7600", "+79161234567", text)
    page = await (await client.get("/gsm?sent=1")).text()
    assert "The SMS was sent." in page and text in page and "+79161234567" in page
    assert "0 SMS in, 1 out" in page

    response = await client.post("/gsm/ussd", data={"code": "*100#", "csrf_token": token})
    assert response.status == 200
    assert "Баланс 123.45 р." in await response.text()
    assert ami.sent("SendUSSD")[0]["USSD"] == "*100#"


async def test_ami_down_shows_and_refuses_clearly(console: Console) -> None:
    port = closed_port()
    service = AmiGsmService(ami_config(port), SmsStore(console.writer), retry_max_s=0.5)
    await service.start()
    console.client.app[SERVICES].gsm = service
    try:
        await until(lambda: service.status().last_error, 5, "the failed connection")
        client = console.client
        assert (await login(client, *ADMIN)).status == 303
        page = await (await client.get("/gsm")).text()
        assert ">not connected<" in page and f"AMI at 127.0.0.1:{port}" in page
        token = await csrf_token(client, "/gsm")
        response = await client.post("/gsm/sms", data={
            "number": "+79161234567", "text": "hi", "csrf_token": token})
        body = await response.text()
        assert response.status == 502 and "The SMS was not sent: not connected to" in body
        assert f"AMI at 127.0.0.1:{port}" in body
        response = await client.post("/gsm/ussd", data={"code": "*100#", "csrf_token": token})
        assert response.status == 502 and "USSD failed: not connected" in await response.text()
    finally:
        await service.stop()
    assert await SmsStore(console.writer).recent() == []
