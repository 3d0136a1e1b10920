"""The widget channel's pure parts: allowed origins as a browser sends them, instance
settings checked, session ids by shape, and the sliding-window limiter."""

from __future__ import annotations

import secrets

import pytest

from channels.ratelimit import WindowLimiter
from channels.widget.settings import SettingsError, check_settings, normalize_origin, parse_origins
from channels.widget.store import is_public_id, is_session_id, new_public_id, new_session_id


@pytest.mark.parametrize(("given", "origin"), [
    ("https://Example.COM", "https://example.com"),
    ("https://example.com:443/", "https://example.com"),
    ("http://example.com:80", "http://example.com"),
    ("http://localhost:8080", "http://localhost:8080"),
    ("http://127.0.0.1:5173", "http://127.0.0.1:5173"),
    ("https://[::1]:8443", "https://[::1]:8443"),
])
def test_origins_are_kept_as_browsers_send_them(given: str, origin: str) -> None:
    assert normalize_origin(given) == origin


@pytest.mark.parametrize("given", [
    "example.com", "ftp://example.com", "https://example.com/path", "https://example.com?q",
    "https://user@example.com", "https://exa mple.com", "https://example.com:99999",
    "https://example.com:", "javascript:alert(1)", "https://*.example.com", "",
])
def test_anything_else_is_not_an_origin(given: str) -> None:
    with pytest.raises(SettingsError):
        normalize_origin(given)


def test_origins_one_per_line_without_duplicates() -> None:
    assert parse_origins("https://a.example\n https://A.example:443 ,http://b.example:81") \
        == ("https://a.example", "http://b.example:81")
    assert parse_origins("  ") == ()
    with pytest.raises(SettingsError, match="at most"):
        parse_origins("\n".join(f"https://s{i}.example" for i in range(21)))


def test_settings_are_checked() -> None:
    settings = check_settings(name=" Site ", persona="anna", personas=["anna"],
                              greeting=" Hi ", accent_color="#AABBCC", text_color="#ffffff",
                              position="bottom-left", allowed_origins="https://a.example")
    assert (settings.name, settings.greeting, settings.accent_color) == ("Site", "Hi", "#aabbcc")
    with pytest.raises(SettingsError, match="persona"):
        check_settings(name="x", persona="bob", personas=["anna"], greeting="Hi",
                       accent_color="#000000", text_color="#ffffff", position="bottom-left",
                       allowed_origins="")


def test_ids_are_random_and_checked_by_shape() -> None:
    assert is_session_id(new_session_id()) and is_public_id(new_public_id())
    assert new_session_id() != new_session_id()
    for junk in ("", "x" * 42, "x" * 44, "a" * 42 + "!", "../" * 15, None, 42,
                 secrets.token_hex(32)):
        assert not is_session_id(junk)


def test_the_window_limiter_counts_per_key_and_forgets() -> None:
    now = [0.0]
    limiter = WindowLimiter(2, 10.0, clock=lambda: now[0])
    assert limiter.hit(["a"]) is None and limiter.hit(["a"]) is None
    assert limiter.hit(["a"]) == 10
    assert limiter.hit(["b"]) is None  # another key is not held up
    now[0] = 4.5
    assert limiter.hit(["a", "b"]) == 6  # one blocked key blocks, and nothing is counted
    now[0] = 10.1
    assert limiter.hit(["a"]) is None
