"""The console with Twilio enabled, its REST API played by a local stub, over a real
SQLite database (tests.web.conftest's `running_console`), served on 127.0.0.1."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from channels.twilio.config import TwilioConfig
from channels.twilio.signature import SIGNATURE_HEADER, WebhookSignatures
from tests.twilio.rest_stub import TwilioRestStub, running_rest_stub
from tests.web.conftest import (
    Console,
    assert_no_errors_logged,
    ignore_session_key_warnings,
    running_console,
)
from web.services import ConsoleServices
from web.state import SERVICES

ACCOUNT_SID = "ACtest"
AUTH_TOKEN = "twilio-auth-token-for-tests"
TRANSFER_NUMBERS = {"reception": "+15550009999"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    ignore_session_key_warnings(items, Path(__file__).parent)


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An error the console or the stream code logs (a 500, a crashed call) fails the test."""
    yield
    assert_no_errors_logged(caplog, ("web", "aiohttp", "ari_app", "media"))


@dataclass
class TwilioHarness:
    console: Console
    rest: TwilioRestStub
    config: TwilioConfig

    @property
    def client(self) -> TestClient:
        return self.console.client

    @property
    def services(self) -> ConsoleServices:
        return self.client.app[SERVICES]

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def post_signed(self, path: str, params: Mapping[str, str], *,
                          signed_url: str | None = None, token: str = AUTH_TOKEN,
                          signature: str | None = None,
                          sent: Mapping[str, str] | None = None) -> ClientResponse:
        """POST `sent` (default `params`) as Twilio would, signed over `params` and
        `signed_url` (default: the URL posted to) with `token`."""
        if signature is None:
            signature = WebhookSignatures(token).sign(signed_url or self.url(path), params)
        return await self.client.post(path, data=dict(sent if sent is not None else params),
                                      headers={SIGNATURE_HEADER: signature})

    async def incoming_call(self, call_sid: str, caller: str = "+15551230001") -> str:
        response = await self.post_signed("/twilio/voice", {
            "CallSid": call_sid, "AccountSid": ACCOUNT_SID, "From": caller,
            "To": "+15550000000", "CallStatus": "ringing", "Direction": "inbound"})
        assert response.status == 200, await response.text()
        assert response.content_type == "application/xml"
        return await response.text()


@contextlib.asynccontextmanager
async def twilio_harness(tmp_path: Path, **twilio: Any) -> AsyncIterator[TwilioHarness]:
    async with running_rest_stub() as rest:
        config = TwilioConfig(**{
            "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "api_base": rest.base_url,
            "transfer_numbers": TRANSFER_NUMBERS, "max_calls": 2, **twilio})
        async with running_console(tmp_path, twilio=config) as console:
            yield TwilioHarness(console, rest, config)


@pytest.fixture
async def tw(tmp_path: Path) -> AsyncIterator[TwilioHarness]:
    async with twilio_harness(tmp_path) as harness:
        yield harness
