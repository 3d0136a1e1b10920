"""Is this request really from Twilio, and did our webhook start this stream?

Webhooks: `X-Twilio-Signature` is an HMAC of the URL Twilio called plus the sorted form
parameters (or, for JSON bodies, of the URL whose `bodySHA256` query names the body's
hash), keyed by the account's auth token. The `twilio` library checks it, in constant
time. Behind a reverse proxy the URL the app sees is not the one Twilio signed, so the
public root comes from settings (`twilio.public_url`).

Streams: the websocket's `start` message carries the parameters our TwiML gave it; one is
a token, an HMAC of the call SID and an expiry, so only streams our webhook started
within the last `ttl_s` seconds are accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any

from twilio.request_validator import RequestValidator

SIGNATURE_HEADER = "X-Twilio-Signature"


def public_request_url(public_url: str | None, path_qs: str, seen_url: str) -> str:
    """The URL Twilio called: the configured public root + this request's path and query;
    without a public root, the URL as the app saw it."""
    if not public_url:
        return seen_url
    return public_url.rstrip("/") + path_qs


class WebhookSignatures:
    """Checks webhook signatures with the account's auth token."""

    def __init__(self, auth_token: str) -> None:
        self._validator = RequestValidator(auth_token)

    def valid(self, url: str, params: Mapping[str, Any] | str, signature: str | None) -> bool:
        """`params`: the POSTed form (a multidict keeps repeated keys) or, for a JSON
        body, the body text (its hash must match the URL's `bodySHA256`)."""
        if not signature:
            return False
        return bool(self._validator.validate(url, params, signature))

    def sign(self, url: str, params: Mapping[str, Any]) -> str:
        """The signature Twilio would send (for tests and tools)."""
        return str(self._validator.compute_signature(url, params))


class StreamTokens:
    """Short-lived tokens tying a Media Stream to the call our webhook answered."""

    def __init__(self, secret: str, ttl_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = ("twilio-stream:" + secret).encode()  # not the webhook HMAC's input
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, call_sid: str) -> str:
        expires = int(self._clock() + self.ttl_s)
        return f"{expires}.{self._mac(call_sid, expires)}"

    def refusal(self, token: str | None, call_sid: str) -> str | None:
        """Why `token` does not admit a stream of `call_sid` (None: it does)."""
        if not token:
            return "no stream token"
        expires_text, _, mac = token.partition(".")
        if not expires_text.isdigit() or len(expires_text) > 12 or not mac:
            return "malformed stream token"
        expires = int(expires_text)
        if not hmac.compare_digest(self._mac(call_sid, expires), mac):
            return "forged stream token (or one for another call)"
        if self._clock() > expires:
            return "expired stream token"
        return None

    def _mac(self, call_sid: str, expires: int) -> str:
        message = f"{call_sid}|{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
