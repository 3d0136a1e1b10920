"""A Twilio call's far end (`ari_app.line_call.Line`, structurally): hang up and transfer
through the REST API, with the real `twilio` client.

Both are a Calls update (`POST /2010-04-01/Accounts/{sid}/Calls/{CallSid}.json`): status
`completed` hangs up; new TwiML with `<Dial>` replaces the stream with a call to a human.
The API root is a setting (`twilio.api_base`) so a local server can stand in for Twilio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.twilio import twiml
from channels.twilio.config import TwilioConfig

if TYPE_CHECKING:
    from twilio.rest.api.v2010.account.call import CallContext

log = logging.getLogger(__name__)


class Target(Protocol):
    """A persona's transfer target (`brain.persona.TransferTarget`), as far as we need."""

    name: str
    ring_timeout_s: float


def rest_client(config: TwilioConfig) -> Client:
    """An async `twilio` client whose Api domain points at `config.api_base`. One HTTP
    session per request (no pool to close): hang-ups and transfers are rare."""
    client = Client(config.account_sid, config.auth_token,
                    http_client=AsyncTwilioHttpClient(pool_connections=False,
                                                      timeout=config.rest_timeout_s))
    # Every Api resource URL is built from the domain's base_url (twilio.base.domain)
    client.api.base_url = config.api_base.rstrip("/")
    return client


class TwilioLine:
    """Hang-up and transfer of one call, by its CallSid."""

    def __init__(self, client: Client, call_sid: str,
                 transfer_numbers: Mapping[str, str]) -> None:
        self.client = client
        self.call_sid = call_sid
        self.transfer_numbers = dict(transfer_numbers)

    def _call(self) -> CallContext:
        return self.client.calls(self.call_sid)

    async def hang_up(self) -> None:
        await self._call().update_async(status="completed")
        log.info("twilio call %s: hung up through the REST API", self.call_sid)

    async def transfer(self, target: Target) -> bool:
        number = self.transfer_numbers.get(target.name)
        if not number:
            log.warning("twilio call %s: no number for transfer target %r "
                        "(twilio.transfer_numbers)", self.call_sid, target.name)
            return False
        try:
            await self._call().update_async(
                twiml=twiml.dial(number, timeout_s=target.ring_timeout_s))
        except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
            # Twilio refused or did not answer: the caller stays with the secretary
            log.error("twilio call %s: transfer to %s failed: %s", self.call_sid, number, exc)
            return False
        log.info("twilio call %s: put through to %s (%s)", self.call_sid, target.name, number)
        return True
