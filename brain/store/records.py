"""What the store hands out: frozen snapshots of rows, free of the ORM.

Callers get these instead of peewee model instances, so nothing above `brain.store` can
lazily query the database or touch it from the wrong thread. Datetimes are timezone-aware
(UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CallRecord:
    """One conversation: a phone call, or later a Telegram or web chat."""

    id: int
    channel: str
    external_id: str
    caller: str
    persona: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    outcome: str | None
    recording_prefix: str | None


@dataclass(frozen=True)
class TurnRecord:
    """One utterance: role is "caller", "secretary", "system" (notes such as a transfer) or
    "owner" (a person answering a chat handed to them).

    `text` is what was said or meant to be said; `heard_text` what the caller actually heard
    before a barge-in cut it short. `timings` maps a stage name to milliseconds.
    """

    id: int
    call_id: int
    role: str
    text: str
    heard_text: str | None
    language: str | None
    started_at: datetime
    interrupted: bool
    timings: dict[str, float] = field(hash=False)


@dataclass(frozen=True)
class MessageRecord:
    """A message taken for the boss."""

    id: int
    call_id: int | None
    name: str
    callback_number: str
    reason: str
    language: str | None
    created_at: datetime


@dataclass(frozen=True)
class ContactRecord:
    """A known caller; `number` is normalised (see `normalize_number`)."""

    id: int
    number: str
    name: str
    language: str | None
    notes: str
