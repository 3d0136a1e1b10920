"""What an admin sets on a widget instance, checked: name, persona, greeting, colours,
position and the exact origins allowed to embed it. Pure functions, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Position = Literal["bottom-right", "bottom-left"]
POSITIONS: tuple[Position, ...] = ("bottom-right", "bottom-left")
COLOR = re.compile(r"#[0-9a-fA-F]{6}")
HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}"
                  r"[a-z0-9])?")
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_NAME = 80
MAX_GREETING = 500
MAX_ORIGINS = 20


class SettingsError(ValueError):
    """A field an admin gave cannot be used; the message says which and why."""


@dataclass(frozen=True)
class WidgetSettings:
    name: str
    persona: str
    greeting: str = "Hello! How can I help you?"
    accent_color: str = "#2458c6"
    text_color: str = "#ffffff"
    position: Position = "bottom-right"
    allowed_origins: tuple[str, ...] = ()


def normalize_origin(text: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin` (lowercase, no default
    port, nothing after the port). Raises SettingsError for anything else."""
    raw = text.strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise SettingsError(f"{raw!r} is not an origin like https://example.com") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not (HOST.fullmatch(host) or _is_ipv6(host)) \
            or parts.username is not None or parts.path not in ("", "/") \
            or parts.query or parts.fragment or raw.endswith(":"):
        raise SettingsError(f"{raw!r} is not an origin like https://example.com "
                            "(scheme, host and port only)")
    if _is_ipv6(host):
        host = f"[{host}]"  # urlsplit drops the brackets of an IPv6 literal
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _is_ipv6(host: str) -> bool:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def parse_origins(text: str) -> tuple[str, ...]:
    """One origin per line (or separated by spaces or commas), duplicates dropped."""
    found: list[str] = []
    for item in re.split(r"[\s,]+", text.strip()):
        if item and (origin := normalize_origin(item)) not in found:
            found.append(origin)
    if len(found) > MAX_ORIGINS:
        raise SettingsError(f"at most {MAX_ORIGINS} allowed origins")
    return tuple(found)


def check_settings(*, name: str, persona: str, personas: list[str], greeting: str,
                   accent_color: str, text_color: str, position: str,
                   allowed_origins: str) -> WidgetSettings:
    """The settings from form text; `personas`: the keys a widget may use."""
    name, greeting = name.strip(), greeting.strip()
    if not name or len(name) > MAX_NAME:
        raise SettingsError(f"a name is 1-{MAX_NAME} characters")
    if persona not in personas:
        raise SettingsError(f"persona must be one of: {', '.join(personas) or '(none)'}")
    if not greeting or len(greeting) > MAX_GREETING:
        raise SettingsError(f"a greeting is 1-{MAX_GREETING} characters")
    for label, color in (("accent colour", accent_color), ("text colour", text_color)):
        if not COLOR.fullmatch(color.strip()):
            raise SettingsError(f"the {label} must look like #2458c6")
    if position not in POSITIONS:
        raise SettingsError(f"position must be one of {', '.join(POSITIONS)}")
    return WidgetSettings(name=name, persona=persona, greeting=greeting,
                          accent_color=accent_color.strip().lower(),
                          text_color=text_color.strip().lower(),
                          position=position,  # type: ignore[arg-type]
                          allowed_origins=parse_origins(allowed_origins))
