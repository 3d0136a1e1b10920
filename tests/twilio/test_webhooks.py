"""The webhooks through the real app: X-Twilio-Signature checked with the `twilio`
library (valid, forged, missing, wrong URL, replayed with changed parameters), and the
TwiML the incoming-call webhook answers with."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ari_app.behaviours import EchoBehaviour
from ari_app.line_call import LineCallOptions, LineCalls
from channels.twilio.signature import SIGNATURE_HEADER, StreamTokens, WebhookSignatures
from media.clock import FrameClock
from tests.twilio.conftest import AUTH_TOKEN, TwilioHarness, twilio_harness
from tests.twilio.stream_client import parse_stream_twiml
from tests.web.conftest import running_console

CALL = {"CallSid": "CA100", "AccountSid": "ACtest", "From": "+15551230001",
        "To": "+15550000000", "CallStatus": "ringing"}


def give_lines(tw: TwilioHarness, tmp_path: Path) -> LineCalls:
    """The phone process's calls (what run_secretary lends the console); echo behaviour:
    these tests are about the webhooks, not the conversation (no call starts here)."""
    lines = LineCalls(lambda: EchoBehaviour(None), FrameClock(),
                      LineCallOptions(calls_log_dir=tw.console.calls_log))
    tw.services.lines = lines
    return lines


async def test_a_signed_call_gets_a_stream_with_a_token_for_that_call(
        tw: TwilioHarness, tmp_path: Path) -> None:
    give_lines(tw, tmp_path)
    url, params = parse_stream_twiml(await tw.incoming_call("CA100", "+15551230001"))
    host = tw.client.make_url("/").host
    assert url == f"ws://{host}:{tw.client.port}/twilio/media"
    assert params["caller"] == "+15551230001" and params["callSid"] == "CA100"
    tokens = StreamTokens(AUTH_TOKEN, 60)
    assert tokens.refusal(params["token"], "CA100") is None
    assert tokens.refusal(params["token"], "CA999") is not None  # bound to its call


async def test_forged_missing_and_wrongly_signed_webhooks_get_403(
        tw: TwilioHarness, tmp_path: Path) -> None:
    give_lines(tw, tmp_path)
    forged = await tw.post_signed("/twilio/voice", CALL, token="not-the-auth-token")
    assert forged.status == 403
    assert "invalid X-Twilio-Signature" in await forged.text()
    missing = await tw.client.post("/twilio/voice", data=CALL)
    assert missing.status == 403
    assert "missing X-Twilio-Signature" in await missing.text()
    wrong_url = await tw.post_signed("/twilio/voice", CALL,
                                     signed_url="https://elsewhere.example/twilio/voice")
    assert wrong_url.status == 403
    # a captured request replayed with one parameter changed no longer matches
    replayed = await tw.post_signed("/twilio/voice", CALL,
                                    sent={**CALL, "From": "+19995550000"})
    assert replayed.status == 403
    status = await tw.post_signed("/twilio/status", {"CallSid": "CA100",
                                                     "CallStatus": "completed"},
                                  token="forged")
    assert status.status == 403
    # the real thing still works after all that
    assert (await tw.post_signed("/twilio/voice", CALL)).status == 200


async def test_the_signed_url_is_the_public_one_behind_a_proxy(tmp_path: Path) -> None:
    public = "https://secretary.example.com/phone"
    async with twilio_harness(tmp_path, public_url=public) as tw:
        give_lines(tw, tmp_path)
        # signed over the URL as the app sees it: not what Twilio called, refused
        assert (await tw.post_signed("/twilio/voice", CALL)).status == 403
        response = await tw.post_signed("/twilio/voice", CALL,
                                        signed_url=f"{public}/twilio/voice")
        assert response.status == 200
        url, _ = parse_stream_twiml(await response.text())
        assert url == "wss://secretary.example.com/phone/twilio/media"
        assert 'statusCallback="https://secretary.example.com/phone/twilio/status"' in \
            await response.text()


async def test_a_json_body_is_checked_by_its_body_hash(tw: TwilioHarness) -> None:
    body = '{"CallSid": "CA100", "CallStatus": "completed"}'
    digest = hashlib.sha256(body.encode()).hexdigest()
    path = f"/twilio/status?bodySHA256={digest}"
    signature = WebhookSignatures(AUTH_TOKEN).sign(tw.url(path), {})
    headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
    assert (await tw.client.post(path, data=body, headers=headers)).status == 200
    tampered = body.replace("completed", "busy")
    assert (await tw.client.post(path, data=tampered, headers=headers)).status == 403


async def test_before_the_secretary_is_ready_the_caller_hears_why_and_is_hung_up(
        tw: TwilioHarness) -> None:
    not_ready = await tw.incoming_call("CA200")  # no lines lent yet: models still loading
    assert "<Say" in not_ready and "not available" in not_ready and "<Hangup" in not_ready
    assert "<Stream" not in not_ready


async def test_twilio_routes_answer_404_while_twilio_is_off(tmp_path: Path) -> None:
    async with running_console(tmp_path) as console:
        response = await console.client.post("/twilio/voice", data=CALL)
        assert response.status == 404
        assert "twilio.enabled" in await response.text()
