"""The Media Stream socket with a light behaviour (the caller hears itself: the real
`EchoBehaviour` of the echo mode), so the protocol is tested without models: audio both
ways, malformed messages shrugged off, stream tokens and media formats enforced, capacity,
status callbacks; and the REST line (hang-up, transfer) against the local Twilio stub."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from aiohttp import WSCloseCode

from ari_app.behaviours import EchoBehaviour
from ari_app.line_call import LineCallOptions, LineCalls
from brain.persona import TransferTarget
from channels.twilio.line import TwilioLine, rest_client
from channels.twilio.media_stream import TwilioMediaLink
from media.clock import FrameClock
from media.codecs import ULawCodec
from tests.twilio.conftest import TRANSFER_NUMBERS, TwilioHarness, twilio_harness
from tests.twilio.stream_client import FRAME, StreamClient, parse_stream_twiml
from web.twilio import TWILIO

RECEPTION = TransferTarget(name="reception", endpoint="PJSIP/operator", ring_timeout_s=20,
                           description="the front desk")


@pytest.fixture
async def echo_lines(tw: TwilioHarness) -> AsyncIterator[LineCalls]:
    clock = FrameClock()
    lines = LineCalls(lambda: EchoBehaviour(None), clock,
                      LineCallOptions(calls_log_dir=tw.console.calls_log, jitter_depth=2))
    tw.services.lines = lines
    yield lines
    lines.end_all("test over")
    clock.stop()


def tone(seconds: float, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    pcm = (np.sin(2 * np.pi * freq * t) * 8000).astype("<i2").tobytes()
    return ULawCodec().encode(pcm)


@asynccontextmanager
async def stream(tw: TwilioHarness, call_sid: str, *, params: dict[str, str] | None = None,
                 **start: object) -> AsyncIterator[StreamClient]:
    """A stream as Twilio opens it after our webhook's TwiML (params: override them)."""
    url, twiml_params = parse_stream_twiml(await tw.incoming_call(call_sid))
    ws = await tw.client.session.ws_connect(url)
    client = StreamClient(ws, f"MZ{call_sid}", call_sid)
    try:
        await client.connect_and_start(params if params is not None else twiml_params,
                                       **start)
        yield client
    finally:
        await client.close()


async def wait_closed(client: StreamClient, within_s: float = 10.0) -> int | None:
    await client.wait_for(lambda: client.close_code is not None, within_s,
                          "the server did not close the stream")
    return client.close_code


async def test_a_stream_carries_audio_both_ways_and_survives_malformed_messages(
        tw: TwilioHarness, echo_lines: LineCalls) -> None:
    async with stream(tw, "CA300") as client:
        client.start_media()
        # garbage in every shape, mid-call
        for junk in ("not json", "[1, 2]", '{"event": "bogus"}',
                     '{"event": "media", "media": {"payload": "!!not base64!!"}}',
                     '{"event": "media", "media": {}}', '{"event": "start"}'):
            await client.ws.send_str(junk)
        await client.ws.send_bytes(b"\x00\x01")
        spoke_at = await client.say(tone(1.0))
        await client.wait_for(lambda: client.first_voiced_after(spoke_at - 1.0) is not None,
                              10, "the echo never came back")
        call = tw.client.app[TWILIO].calls["CA300"]
        stats = call.media.link.stats
        assert stats.malformed == 7 and stats.delivered > 40
        await client.stop()
        assert await wait_closed(client) is not None
    assert "CA300" not in tw.client.app[TWILIO].calls
    await client.wait_for(lambda: echo_lines.active_calls == 0, 10, "the call never ended")
    assert sorted(p.name.split("_")[-1] for p in tw.console.calls_log.glob("call_*.wav")) \
        == ["input.wav", "output.wav"]


async def test_a_stream_without_a_valid_token_is_closed_as_a_policy_violation(
        tw: TwilioHarness, echo_lines: LineCalls) -> None:
    _, params = parse_stream_twiml(await tw.incoming_call("CA301"))
    cases = {"no token": {k: v for k, v in params.items() if k != "token"},
             "forged": {**params, "token": params["token"][:-4] + "0000"},
             "garbage": {**params, "token": "hello"}}
    for what, forged in cases.items():
        async with stream(tw, "CA302", params=forged) as client:
            client.listen_only()
            assert await wait_closed(client) == WSCloseCode.POLICY_VIOLATION, what
    # a genuine token of another call does not open this one
    async with stream(tw, "CA303", params={**params, "callSid": "CA303"}) as client:
        client.listen_only()
        assert await wait_closed(client) == WSCloseCode.POLICY_VIOLATION
    assert echo_lines.active_calls == 0 and tw.client.app[TWILIO].refused_streams == 4


async def test_a_stream_in_another_media_format_is_refused_with_a_clear_reason(
        tw: TwilioHarness, echo_lines: LineCalls) -> None:
    async with stream(tw, "CA304", encoding="audio/l16", rate=16000) as client:
        client.listen_only()
        assert await wait_closed(client) == WSCloseCode.UNSUPPORTED_DATA
        assert "must be audio/x-mulaw at 8000 Hz" in client.close_reason
    # the server carries the next call normally
    async with stream(tw, "CA305") as client:
        client.start_media()
        spoke_at = await client.say(tone(0.6))
        await client.wait_for(lambda: client.first_voiced_after(spoke_at - 0.6) is not None,
                              10, "the echo never came back")
        params = client.start_params
    # the token of a call that had its stream does not open a second one
    url, _ = parse_stream_twiml(await tw.incoming_call("CA399"))
    client = StreamClient(await tw.client.session.ws_connect(url), "MZ2", "CA305")
    await client.connect_and_start(params)
    client.listen_only()
    try:
        assert await wait_closed(client) == WSCloseCode.POLICY_VIOLATION
        assert "used already" in client.close_reason
    finally:
        await client.close()


async def test_capacity_and_status_callbacks(tw: TwilioHarness,
                                             echo_lines: LineCalls) -> None:
    async with stream(tw, "CA310") as first, stream(tw, "CA311") as second:
        for client in (first, second):
            client.start_media()
        await first.wait_for(lambda: echo_lines.active_calls == 2, 10, "two calls")
        busy = await tw.incoming_call("CA312")  # max_calls is 2 in these tests
        assert "lines are busy" in busy and "<Stream" not in busy
        # Twilio reports the first call completed: its stream is ended and closed
        response = await tw.post_signed("/twilio/status", {
            "CallSid": "CA310", "AccountSid": "ACtest", "CallStatus": "completed"})
        assert response.status == 200
        assert await wait_closed(first) is not None
        await first.wait_for(lambda: echo_lines.active_calls == 1, 10, "one call left")
        assert "<Stream" in await tw.incoming_call("CA313")
        assert not second.ws.closed


async def test_the_rest_line_hangs_up_and_transfers_through_the_twilio_client(
        tw: TwilioHarness) -> None:
    line = TwilioLine(rest_client(tw.config), "CA320", TRANSFER_NUMBERS)
    assert await line.transfer(RECEPTION)
    update = await tw.rest.wait_update("CA320")
    assert update.account_sid == "ACtest" and update.user == "ACtest"
    assert "<Dial timeout=\"20\"><Number>+15550009999</Number></Dial>" in update.form["Twiml"]
    unknown = TransferTarget(name="sales", endpoint="PJSIP/sales", ring_timeout_s=20,
                             description="")
    assert not await line.transfer(unknown)  # no number for it: nothing is sent
    assert len(tw.rest.updates) == 1
    tw.rest.fail_with = 404  # Twilio refuses: the caller stays with the secretary
    assert not await line.transfer(RECEPTION)
    tw.rest.fail_with = None
    hang_up = TwilioLine(rest_client(tw.config), "CA321", {})
    await hang_up.hang_up()
    assert (await tw.rest.wait_update("CA321")).form == {"Status": "completed"}


async def test_outgoing_messages_are_what_twilio_expects() -> None:
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    link = TwilioMediaLink("MZ1", send)
    link.start()
    link.send_frame(b"\x00" * FRAME, FRAME)  # still queued when the caller barges in:
    link.clear_far_end()  # dropped here, and Twilio drops what it holds
    link.send_frame(b"\x7f" * FRAME, FRAME)
    link.send_mark("reply-1")
    link.close()
    await link.drained()
    messages = [json.loads(text) for text in sent]
    assert messages == [
        {"event": "clear", "streamSid": "MZ1"},
        {"event": "media", "streamSid": "MZ1",
         "media": {"payload": base64.b64encode(b"\x7f" * FRAME).decode()}},
        {"event": "mark", "streamSid": "MZ1", "mark": {"name": "reply-1"}}]
    assert link.stats.sent == 2 and link.stats.unsent == 1
    link.send_frame(b"\x7f" * FRAME, FRAME)  # after close: counted, never raised
    assert link.stats.unsent == 2


async def test_an_expired_stream_token_is_refused(tmp_path: Path) -> None:
    async with twilio_harness(tmp_path, stream_token_ttl_s=-1) as tw:
        tw.services.lines = LineCalls(lambda: EchoBehaviour(None), FrameClock(),
                                      LineCallOptions(calls_log_dir=tw.console.calls_log))
        async with stream(tw, "CA330") as client:
            client.listen_only()
            assert await wait_closed(client) == WSCloseCode.POLICY_VIOLATION
            assert client.close_reason == "expired stream token"
