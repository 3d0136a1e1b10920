"""Reading what a request asks for (filters, pages, ids) into checked values, shared by the
pages and the API. Anything malformed is a 400 (a bad id, a 404), never an exception
further in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy

MAX_TEXT = 200
MAX_ID = 2**63 - 1  # beyond any database's integer; bigger ids simply do not exist
MAX_PAGE = 100_000
MIN_YEAR, MAX_YEAR = 1970, 9998


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=message)


async def read_form(request: web.Request) -> MultiDictProxy[Any]:
    """The posted form; 400 when the body is not one (413 when too big, from aiohttp)."""
    try:
        return await request.post()
    except (ValueError, HttpProcessingError):
        raise bad_request("The form could not be read.") from None


def form_text(form: MultiDictProxy[Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def parse_id(text: str) -> int:
    """A row id from the path; 404 when it cannot be one."""
    if not text.isascii() or not text.isdigit() or int(text) > MAX_ID:
        raise web.HTTPNotFound()
    return int(text)


def parse_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name, "").strip()
    if not raw:
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 12 \
            or not low <= int(raw) <= high:
        raise bad_request(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def parse_text(query: Mapping[str, str], name: str) -> str:
    value = query.get(name, "").strip()
    if len(value) > MAX_TEXT:
        raise bad_request(f"{name} may have at most {MAX_TEXT} characters")
    if "\x00" in value or any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise bad_request(f"{name} has characters that cannot be searched for")
    return value


def parse_date(query: Mapping[str, str], name: str) -> date | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        raise bad_request(f"{name} must be a date like 2025-01-31") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise bad_request(f"{name} must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time()).astimezone()


@dataclass(frozen=True)
class CallFilter:
    """Calls started from `since` to `until` (local dates, both included), from a caller
    whose id contains `caller`, in which someone said `text`, on one `channel` ("" any)."""

    since: date | None = None
    until: date | None = None
    caller: str = ""
    text: str = ""
    channel: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CallFilter:
        found = cls(since=parse_date(query, "from"), until=parse_date(query, "to"),
                    caller=parse_text(query, "caller"), text=parse_text(query, "q"),
                    channel=parse_text(query, "channel"))
        if found.since and found.until and found.since > found.until:
            raise bad_request("from must not be after to")
        return found

    def store_args(self) -> dict[str, Any]:
        return {
            "since": local_midnight(self.since) if self.since else None,
            "until": local_midnight(self.until + timedelta(days=1)) if self.until else None,
            "caller": self.caller or None,
            "text": self.text or None,
            "channel": self.channel or None,
        }

    def params(self) -> dict[str, str]:
        """The filter as query parameters (for links to other pages of the same list)."""
        found = {"from": self.since.isoformat() if self.since else "",
                 "to": self.until.isoformat() if self.until else "",
                 "caller": self.caller, "q": self.text, "channel": self.channel}
        return {k: v for k, v in found.items() if v}


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def count(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def parse_page_number(query: Mapping[str, str]) -> int:
    return parse_int(query, "page", 1, 1, MAX_PAGE)
