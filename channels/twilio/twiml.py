"""The TwiML documents the channel answers with (built by the `twilio` library, so the
XML is escaped and shaped as Twilio expects)."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.voice_response import Connect, Dial, VoiceResponse

BUSY_TEXT = "Sorry, all our lines are busy right now. Please call again in a few minutes."
NOT_READY_TEXT = ("Sorry, the secretary is not available at the moment. "
                  "Please call again in a few minutes.")


def stream_url(public_root: str) -> str:
    """wss://host[/prefix]/twilio/media from the public https root."""
    root = public_root.rstrip("/")
    if root.startswith("https://"):
        root = "wss://" + root[len("https://"):]
    elif root.startswith("http://"):  # a plain-HTTP test server; Twilio itself needs wss
        root = "ws://" + root[len("http://"):]
    return root + "/twilio/media"


def connect_stream(url: str, parameters: Mapping[str, str],
                   status_callback: str | None = None) -> str:
    """Answer the call by connecting it to our websocket, both directions (`<Connect>`
    keeps the call on the stream until we end it or the caller hangs up)."""
    response = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=url, status_callback=status_callback,
                            status_callback_method="POST" if status_callback else None)
    for name, value in parameters.items():
        stream.parameter(name=name, value=value)
    response.append(connect)
    return str(response)


def say_and_hang_up(text: str, language: str = "en-US") -> str:
    """A polite refusal: the caller hears why, then the call ends."""
    response = VoiceResponse()
    response.say(text, language=language)
    response.hangup()
    return str(response)


def dial(number: str, timeout_s: float | None = None) -> str:
    """Put the caller through to `number` (replaces the call's current TwiML, which ends
    the Media Stream)."""
    response = VoiceResponse()
    dial_verb = Dial(timeout=int(timeout_s) if timeout_s else None)
    dial_verb.number(number)
    response.append(dial_verb)
    return str(response)
