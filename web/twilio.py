"""Twilio without SIP: the call webhook, the status callback and the Media Stream socket.

`POST /twilio/voice` answers an incoming call with TwiML that connects it to
`GET /twilio/media` (a websocket); the stream runs as a `LineCall` through the phone
process's `LineCalls` (`services.lines`): the same secretary, recordings and database row
as an Asterisk call. `POST /twilio/status` hears of calls and streams that ended.

The webhooks carry no session: they are public and CSRF-exempt (web.auth.middleware) and
prove themselves by X-Twilio-Signature instead (forged or missing: 403). The websocket
proves itself by the stream token our TwiML handed Twilio (else closed, 1008).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import WSCloseCode, WSMsgType, web
from twilio.rest import Client

from ari_app.line_call import LineCall, LineCalls
from channels.twilio import twiml
from channels.twilio.config import TwilioConfig
from channels.twilio.line import TwilioLine, rest_client
from channels.twilio.media_stream import (
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    StreamProtocolError,
    TwilioMediaLink,
    UnsupportedFormat,
    parse_message,
)
from channels.twilio.signature import (
    SIGNATURE_HEADER,
    StreamTokens,
    WebhookSignatures,
    public_request_url,
)
from media.codecs import codec_for_format
from web.query import read_form
from web.state import CONFIG, SERVICES

if TYPE_CHECKING:
    from secretary.settings import Settings

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0  # Twilio sends `start` right after connecting
MAX_MESSAGES_BEFORE_START = 20
MAX_MESSAGE_BYTES = 64 * 1024  # a 20 ms media message is ~300 bytes
CALL_END_TIMEOUT_S = 30.0  # the behaviour's wrap-up (DB row, transcript) after the stream
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
FINAL_STREAM_EVENTS = frozenset({"stream-stopped", "stream-error"})
ROUTES = frozenset({"twilio.voice", "twilio.status", "twilio.media"})


def twilio_config(settings: Settings) -> TwilioConfig | None:
    """The channel's configuration; None when Twilio is off (its routes then answer 404)."""
    twilio = settings.twilio
    if not twilio.enabled:
        return None
    return TwilioConfig(
        account_sid=twilio.account_sid, auth_token=twilio.auth_token.get_secret_value(),
        public_url=twilio.public_url, api_base=twilio.api_base, max_calls=twilio.max_calls,
        transfer_numbers=dict(twilio.transfer_numbers),
        stream_token_ttl_s=twilio.stream_token_ttl_s)


@dataclass
class TwilioChannel:
    """One app's Twilio state: the checks, the REST client and the streams in progress."""

    config: TwilioConfig
    signatures: WebhookSignatures
    tokens: StreamTokens
    rest: Client
    calls: dict[str, LineCall] = field(default_factory=dict)  # by CallSid
    # CallSid -> when its token expires: a token opens one stream, however often replayed
    used_tokens: dict[str, float] = field(default_factory=dict)
    refused_webhooks: int = 0
    refused_streams: int = 0

    @classmethod
    def create(cls, config: TwilioConfig) -> TwilioChannel:
        return cls(config, WebhookSignatures(config.auth_token),
                   StreamTokens(config.auth_token, config.stream_token_ttl_s),
                   rest_client(config))


TWILIO = web.AppKey("twilio", TwilioChannel)


def _channel(request: web.Request) -> TwilioChannel | None:
    return request.app.get(TWILIO)


def _off() -> web.Response:
    return web.Response(status=404, text="Twilio is not enabled here (twilio.enabled).\n")


def _public_root(request: web.Request, config: TwilioConfig) -> str:
    return (config.public_url or f"{request.scheme}://{request.host}").rstrip("/")


async def _signed_params(request: web.Request,
                         channel: TwilioChannel) -> tuple[dict[str, str] | None, str]:
    """The webhook's parameters if its signature holds; else (None, why)."""
    signature = request.headers.get(SIGNATURE_HEADER)
    url = public_request_url(channel.config.public_url, request.path_qs, str(request.url))
    if request.content_type == "application/json":  # signed through ?bodySHA256=
        body = await request.text()
        ok = "bodySHA256" in request.query and channel.signatures.valid(url, body, signature)
        params: dict[str, str] = dict(request.query)
    else:
        form = await read_form(request)
        ok = channel.signatures.valid(url, form, signature)
        params = {key: value for key, value in form.items() if isinstance(value, str)}
    if ok:
        return params, ""
    channel.refused_webhooks += 1
    why = "missing" if not signature else "invalid"
    log.warning("twilio webhook %s refused: %s X-Twilio-Signature (checked against %s)",
                request.path, why, url)
    return None, f"Forbidden: {why} X-Twilio-Signature for {url}\n"


async def _signed_webhook(
        request: web.Request) -> tuple[TwilioChannel, dict[str, str]] | web.Response:
    """The channel and the webhook's parameters; or the answer when Twilio is off (404) or
    the signature does not hold (403)."""
    channel = _channel(request)
    if channel is None:
        return _off()
    params, refusal = await _signed_params(request, channel)
    if params is None:
        return web.Response(status=403, text=refusal)
    return channel, params


def _xml(document: str) -> web.Response:
    return web.Response(text=document, content_type="application/xml")


async def voice_webhook(request: web.Request) -> web.StreamResponse:
    """An incoming call: connect it to our websocket, or say politely why not."""
    checked = await _signed_webhook(request)
    if isinstance(checked, web.Response):
        return checked
    channel, params = checked
    call_sid = params.get("CallSid", "")
    if not call_sid:
        return web.Response(status=400, text="CallSid is missing\n")
    if request.app[SERVICES].lines is None:
        log.warning("twilio call %s refused: the secretary is not ready", call_sid)
        return _xml(twiml.say_and_hang_up(twiml.NOT_READY_TEXT))
    if len(channel.calls) >= channel.config.max_calls:
        log.warning("twilio call %s refused: %d calls in progress", call_sid,
                    len(channel.calls))
        return _xml(twiml.say_and_hang_up(twiml.BUSY_TEXT))
    root = _public_root(request, channel.config)
    parameters = {"caller": params.get("From", ""), "callSid": call_sid,
                  "token": channel.tokens.issue(call_sid)}
    log.info("twilio call %s from %r: connecting its media stream", call_sid,
             parameters["caller"])
    return _xml(twiml.connect_stream(twiml.stream_url(root), parameters,
                                     status_callback=f"{root}/twilio/status"))


async def status_webhook(request: web.Request) -> web.StreamResponse:
    """Call status (configured on the number) and stream status (from our TwiML)."""
    checked = await _signed_webhook(request)
    if isinstance(checked, web.Response):
        return checked
    channel, params = checked
    call_sid = params.get("CallSid", "")
    status = params.get("CallStatus") or params.get("StreamEvent") or ""
    log.info("twilio status of %s: %s", call_sid, status or "(none)")
    call = channel.calls.get(call_sid)
    if call is not None and (status in FINAL_CALL_STATUSES or status in FINAL_STREAM_EVENTS):
        call.end(f"twilio: {status}")
    return web.Response(text="ok\n")


async def media_stream(request: web.Request) -> web.StreamResponse:
    channel = _channel(request)
    if channel is None:
        return _off()
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    await _StreamSession(channel, request.app[SERVICES].lines, ws).run()
    return ws


class _StreamSession:
    """One websocket: wait for `start`, admit it, run the call until either side ends."""

    def __init__(self, channel: TwilioChannel, lines: LineCalls | None,
                 ws: web.WebSocketResponse) -> None:
        self.channel = channel
        self.lines = lines
        self.ws = ws
        self.malformed = 0
        self.marks: list[str] = []

    async def run(self) -> None:
        try:
            start = await asyncio.wait_for(self._wait_for_start(), START_TIMEOUT_S)
        except TimeoutError:
            await self._close(WSCloseCode.POLICY_VIOLATION, "no start message")
            return
        if start is None:
            return
        refusal = self._refusal(start)
        if refusal is not None:
            self.channel.refused_streams += 1
            log.warning("twilio stream %s of call %s refused: %s", start.stream_sid,
                        start.call_sid, refusal[1])
            await self._close(*refusal)
            return
        assert self.lines is not None
        await self._converse(self.lines, start)

    async def _wait_for_start(self) -> Start | None:
        for _ in range(MAX_MESSAGES_BEFORE_START):
            message = await self.ws.receive()
            if message.type != WSMsgType.TEXT:
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                    WSMsgType.ERROR):
                    return None
                self._bad(None, "a binary message")
                continue
            try:
                event = parse_message(message.data)
            except UnsupportedFormat as exc:
                log.warning("twilio stream refused: %s", exc)
                await self._close(WSCloseCode.UNSUPPORTED_DATA, str(exc))
                return None
            except StreamProtocolError as exc:
                self._bad(None, str(exc))
                continue
            if isinstance(event, Start):
                return event
        await self._close(WSCloseCode.POLICY_VIOLATION, "no start message")
        return None

    def _refusal(self, start: Start) -> tuple[int, str] | None:
        config = self.channel.config
        why = self.channel.tokens.refusal(start.custom_parameters.get("token"), start.call_sid)
        if why is not None:
            return WSCloseCode.POLICY_VIOLATION, why
        if config.account_sid and start.account_sid not in ("", config.account_sid):
            return WSCloseCode.POLICY_VIOLATION, "stream of another account"
        if start.call_sid in self.channel.calls:
            return WSCloseCode.POLICY_VIOLATION, "this call already has a stream"
        now = time.time()
        used = self.channel.used_tokens
        for sid in [sid for sid, expires in used.items() if expires < now]:
            del used[sid]  # expired tokens are refused by the token check itself
        if start.call_sid in used:
            return WSCloseCode.POLICY_VIOLATION, "this stream token was used already"
        if self.lines is None:
            return WSCloseCode.TRY_AGAIN_LATER, "the secretary is not ready"
        if len(self.channel.calls) >= config.max_calls:
            return WSCloseCode.TRY_AGAIN_LATER, "all lines are busy"
        return None

    async def _converse(self, lines: LineCalls, start: Start) -> None:
        config = self.channel.config
        link = TwilioMediaLink(start.stream_sid, self.ws.send_str)
        link.start()
        line = TwilioLine(self.channel.rest, start.call_sid, config.transfer_numbers)
        try:
            call = lines.open(line, link, codec_for_format("ulaw"),
                              line_name=config.line_name,
                              caller_number=start.custom_parameters.get("caller", ""),
                              call_id=start.call_sid)
        except Exception:  # e.g. calls_log not writable: this call fails, not the server
            log.exception("twilio call %s: could not open its media", start.call_sid)
            link.socket_gone()
            await self._close(WSCloseCode.INTERNAL_ERROR, "the call could not be set up")
            return
        self.channel.calls[start.call_sid] = call
        self.channel.used_tokens[start.call_sid] = time.time() + config.stream_token_ttl_s
        running = asyncio.create_task(lines.run(call))
        reader = asyncio.create_task(self._read(link, call))
        try:
            await asyncio.wait({running, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():  # the caller or Twilio ended the stream
                call.end(reader.result())
                await asyncio.wait({running}, timeout=CALL_END_TIMEOUT_S)
            else:  # we ended the call (hang-up, transfer): let the last frames out
                await link.drained()
                await self._close(WSCloseCode.OK, "call ended")
        finally:
            self.channel.calls.pop(start.call_sid, None)
            link.socket_gone()
            for task in (running, reader):
                task.cancel()
            await asyncio.gather(running, reader, return_exceptions=True)
            stats = link.stats
            log.info("twilio stream %s ended: %d frames in, %d out, %d unsent, %d malformed, "
                     "%d clears, %d marks", start.stream_sid, stats.delivered, stats.sent,
                     stats.unsent, stats.malformed, link.clears_sent, len(self.marks))

    async def _read(self, link: TwilioMediaLink, call: LineCall) -> str:
        """Feed the call until the stream stops; return why it ended."""
        async for message in self.ws:
            if message.type == WSMsgType.ERROR:
                return "stream failed"
            if message.type != WSMsgType.TEXT:
                self._bad(link, "a binary message")
                continue
            try:
                event = parse_message(message.data)
            except StreamProtocolError as exc:
                self._bad(link, str(exc))
                continue
            if isinstance(event, Media):
                link.receive(event)
            elif isinstance(event, Dtmf):
                call.dtmf.put_nowait(event.digit)
            elif isinstance(event, Mark):
                self.marks.append(event.name)
            elif isinstance(event, Stop):
                return "caller hung up (stream stopped)"
            elif isinstance(event, Start):
                self._bad(link, "a second start message")
        return "stream closed"

    def _bad(self, link: TwilioMediaLink | None, why: str) -> None:
        """A malformed message: counted; logged the first time only (a broken sender
        would otherwise log 50 lines a second)."""
        self.malformed += 1
        if link is not None:
            link.count_malformed()
        if self.malformed == 1:
            log.warning("twilio stream: malformed message ignored (%s)", why)

    async def _close(self, code: int, message: str) -> None:
        # a close frame's reason must fit in 123 bytes
        await self.ws.close(code=code, message=message.encode()[:120])


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/twilio/voice", voice_webhook, name="twilio.voice")
    router.add_post("/twilio/status", status_webhook, name="twilio.status")
    router.add_get("/twilio/media", media_stream, name="twilio.media")


def setup(app: web.Application) -> None:
    """The routes always (404 while Twilio is off); the channel when configured."""
    add_routes(app.router)
    config = app[CONFIG].twilio
    if config is not None:
        app[TWILIO] = TwilioChannel.create(config)
