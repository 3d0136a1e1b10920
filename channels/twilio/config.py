"""What the Twilio channel needs to know, built from settings at the process edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TWILIO_API = "https://api.twilio.com"


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str = field(repr=False)
    # The public root Twilio calls (https://host[/prefix]); None: the request's own URL.
    public_url: str | None = None
    api_base: str = TWILIO_API
    max_calls: int = 10
    transfer_numbers: Mapping[str, str] = field(default_factory=dict)
    stream_token_ttl_s: float = 60.0
    line_name: str = "twilio"
    rest_timeout_s: float = 10.0
