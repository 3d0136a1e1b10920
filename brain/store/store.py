"""The async store: every read and write of calls, turns, messages and contacts.

peewee is synchronous, so each Store owns one worker thread and runs every database
operation there: SQLite's connection is only ever used from that thread, operations run
one at a time in the order they were awaited, and the event loop never blocks on I/O.
Outside a transaction peewee commits each statement at once, so a crash loses nothing
that an awaited call has written.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import peewee
from playhouse import db_url

from brain.store.models import Models, build_models
from brain.store.records import CallRecord, ContactRecord, MessageRecord, TurnRecord

T = TypeVar("T")

# "owner": a person answering in a chat channel (the website widget's hand-off).
ROLES = frozenset({"caller", "secretary", "system", "owner"})

# WAL lets another process (the admin console) read while calls write; synchronous=FULL
# syncs the WAL on each commit so a power cut keeps what was committed too.
SQLITE_PRAGMAS: dict[str, Any] = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "full",
}
SQLITE_BUSY_TIMEOUT_S = 10.0

_PHONE_CHARS = re.compile(r"[\d\s().\-/+]+")


def normalize_number(text: str) -> str:
    """The key a contact is filed under.

    A phone number keeps a leading "+" and its digits ("+7 (912) 345-67-89" ->
    "+79123456789"); anything else (a SIP user name such as "Tester") is kept as-is,
    trimmed and lowercased.
    """
    text = text.strip()
    if _PHONE_CHARS.fullmatch(text) and any(ch.isdigit() for ch in text):
        digits = "".join(ch for ch in text if ch.isdigit())
        return "+" + digits if text.startswith("+") else digits
    return text.lower()


def database_for_url(url: str) -> peewee.Database:
    """The peewee database a URL names, not yet connected.

    "sqlite:////abs/path.db", "sqlite:///:memory:", "postgresql://user:pw@host/db".
    SQLite gets WAL, foreign keys, a busy timeout and IMMEDIATE transactions (a
    read-modify-write takes the write lock up front instead of failing half-way);
    parameters given in the URL's query string win.
    """
    parsed = db_url.parse(url)
    extra: dict[str, Any] = {}
    if url.split(":", 1)[0].startswith("sqlite"):
        extra = {"pragmas": SQLITE_PRAGMAS, "timeout": SQLITE_BUSY_TIMEOUT_S,
                 "lock_type": "IMMEDIATE"}
    return db_url.connect(url, **{k: v for k, v in extra.items() if k not in parsed})


class Store:
    """The secretary's database. Open with `await Store.open(url)`, end with `close()`.

    Methods that name a row by id raise LookupError when there is no such row.
    Datetimes may carry any timezone (naive ones are local time); they come back in UTC.
    """

    def __init__(self, database: peewee.Database,
                 redact: Callable[[str], str] | None = None) -> None:
        """redact: applied to every turn text written (privacy.mask_numbers)."""
        self._db = database
        self.redact = redact
        self._models: Models = build_models(database)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._closed = False

    @classmethod
    async def open(cls, url: str, *, redact: Callable[[str], str] | None = None) -> Store:
        """Connect and create the tables that are missing (existing data is kept)."""
        store = cls(database_for_url(url), redact)
        try:
            await store._run(store._setup)
        except BaseException:
            store._executor.shutdown(wait=False)
            raise
        return store

    async def close(self) -> None:
        if self._closed:
            return
        # Operations already awaited are queued ahead of this one and finish first.
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        finally:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # calls

    async def start_call(self, *, channel: str, external_id: str, caller: str, persona: str,
                         started_at: datetime, recording_prefix: str | None = None) -> int:
        call = self._models.call

        def insert() -> int:
            return int(call.insert(
                channel=channel, external_id=external_id, caller=caller, persona=persona,
                started_at=started_at, recording_prefix=recording_prefix).execute())

        return await self._run(insert)

    async def end_call(self, call_id: int, *, ended_at: datetime, reason: str,
                       outcome: str | None = None) -> None:
        call = self._models.call

        def update() -> None:
            changed = call.update(ended_at=ended_at, end_reason=reason, outcome=outcome) \
                .where(call.id == call_id).execute()
            if not changed:
                raise LookupError(f"no call {call_id}")

        await self._run(update)

    async def end_open_calls(self, *, ended_at: datetime, reason: str) -> int:
        """Close the calls a crash left open; returns how many there were."""
        call = self._models.call

        def update() -> int:
            return int(call.update(ended_at=ended_at, end_reason=reason)
                       .where(call.ended_at.is_null()).execute())

        return await self._run(update)

    async def get_call(self, call_id: int) -> CallRecord | None:
        call = self._models.call

        def get() -> CallRecord | None:
            row = call.get_or_none(call.id == call_id)
            return None if row is None else _call_record(row)

        return await self._run(get)

    async def latest_call(self, *, caller: str | None = None,
                          channel: str | None = None) -> CallRecord | None:
        """The most recently started call, optionally of one caller (exact match) or
        channel."""
        call = self._models.call

        def get() -> CallRecord | None:
            query = call.select()
            if caller is not None:
                query = query.where(call.caller == caller)
            if channel is not None:
                query = query.where(call.channel == channel)
            row = query.order_by(call.started_at.desc(), call.id.desc()).first()
            return None if row is None else _call_record(row)

        return await self._run(get)

    async def recent_calls(self, limit: int = 50, offset: int = 0) -> list[CallRecord]:
        """Newest first."""
        _check_page(limit, offset)
        call = self._models.call

        def get() -> list[CallRecord]:
            query = call.select().order_by(call.started_at.desc(), call.id.desc())
            return [_call_record(row) for row in query.limit(limit).offset(offset)]

        return await self._run(get)

    # turns

    async def add_turn(self, call_id: int, *, role: str, text: str, started_at: datetime,
                       language: str | None = None, timings: Mapping[str, float] | None = None,
                       interrupted: bool = False, heard_text: str | None = None) -> int:
        _check_role(role)
        turn = self._models.turn
        clean_timings = _clean_timings(timings)
        text, heard_text = self._redacted(text), self._redacted(heard_text)

        def insert() -> int:
            with self._missing_call_is_lookup_error(call_id):
                return int(turn.insert(
                    call=call_id, role=role, text=text, heard_text=heard_text,
                    language=language, started_at=started_at, interrupted=interrupted,
                    timings=clean_timings).execute())

        return await self._run(insert)

    async def update_turn(self, turn_id: int, *, text: str | None = None,
                          heard_text: str | None = None, interrupted: bool | None = None,
                          timings: Mapping[str, float] | None = None) -> None:
        """Change what is given; `timings` are merged into the turn's existing ones."""
        turn = self._models.turn
        new_timings = _clean_timings(timings)
        text, heard_text = self._redacted(text), self._redacted(heard_text)

        def update() -> None:
            with self._db.atomic():
                query = turn.select().where(turn.id == turn_id)
                if self._db.for_update:  # PostgreSQL; SQLite's IMMEDIATE already locks
                    query = query.for_update()
                row = query.first()
                if row is None:
                    raise LookupError(f"no turn {turn_id}")
                if text is not None:
                    row.text = text
                if heard_text is not None:
                    row.heard_text = heard_text
                if interrupted is not None:
                    row.interrupted = interrupted
                if new_timings:
                    row.timings = {**row.timings, **new_timings}
                row.save()

        await self._run(update)

    def _redacted(self, text: str | None) -> Any:
        """`text` as it may be stored (None stays None: "not given")."""
        return text if text is None or self.redact is None else self.redact(text)

    async def turns(self, call_id: int) -> list[TurnRecord]:
        """A call's turns in the order they started."""
        turn = self._models.turn

        def get() -> list[TurnRecord]:
            query = turn.select().where(turn.call == call_id) \
                .order_by(turn.started_at, turn.id)
            return [_turn_record(row) for row in query]

        return await self._run(get)

    # messages

    async def save_message(self, *, call_id: int | None, name: str, callback_number: str,
                           reason: str, language: str | None, created_at: datetime) -> int:
        message = self._models.message

        def insert() -> int:
            with self._missing_call_is_lookup_error(call_id):
                return int(message.insert(
                    call=call_id, name=name, callback_number=callback_number, reason=reason,
                    language=language, created_at=created_at).execute())

        return await self._run(insert)

    async def messages(self, limit: int = 50, offset: int = 0) -> list[MessageRecord]:
        """Newest first."""
        _check_page(limit, offset)
        message = self._models.message

        def get() -> list[MessageRecord]:
            query = message.select() \
                .order_by(message.created_at.desc(), message.id.desc())
            return [_message_record(row) for row in query.limit(limit).offset(offset)]

        return await self._run(get)

    # contacts

    async def contact_for(self, number: str) -> ContactRecord | None:
        key = normalize_number(number)
        if not key:
            return None
        contact = self._models.contact

        def get() -> ContactRecord | None:
            row = contact.get_or_none(contact.number == key)
            return None if row is None else _contact_record(row)

        return await self._run(get)

    async def remember_contact(self, number: str, name: str,
                               language: str | None = None) -> ContactRecord:
        """Create or rename a contact; a `language` of None keeps the one already known."""
        key = normalize_number(number)
        if not key:
            raise ValueError(f"not a usable contact number: {number!r}")
        if not name.strip():
            raise ValueError("a contact needs a name")
        contact = self._models.contact

        def upsert() -> ContactRecord:
            # One statement, so a concurrent writer in another process cannot slip between
            # a lookup and an insert.
            contact.insert(number=key, name=name, language=language).on_conflict(
                conflict_target=[contact.number],
                update={contact.name: peewee.EXCLUDED.name,
                        contact.language: peewee.fn.COALESCE(peewee.EXCLUDED.language,
                                                             contact.language)},
            ).execute()
            return _contact_record(contact.get(contact.number == key))

        return await self._run(upsert)

    # read-only queries for the admin console and the API

    async def find_calls(self, *, since: datetime | None = None, until: datetime | None = None,
                         caller: str | None = None, text: str | None = None,
                         channel: str | None = None,
                         limit: int = 50, offset: int = 0) -> list[CallRecord]:
        """Calls started in [since, until), newest first. `caller` matches part of the
        caller; `text` part of what was said in a turn. Both are plain text: `%` and `_`
        mean themselves. `channel`: only that channel's ("phone", "widget", ...)."""
        _check_page(limit, offset)
        call = self._models.call

        def get() -> list[CallRecord]:
            query = self._call_filter(call.select(), since, until, caller, text, channel)
            query = query.order_by(call.started_at.desc(), call.id.desc())
            return [_call_record(row) for row in query.limit(limit).offset(offset)]

        return await self._run(get)

    async def count_calls(self, *, since: datetime | None = None,
                          until: datetime | None = None, caller: str | None = None,
                          text: str | None = None, channel: str | None = None) -> int:
        """How many calls `find_calls` with the same filters would list in all."""
        call = self._models.call

        def count() -> int:
            return int(self._call_filter(call.select(), since, until, caller, text,
                                         channel).count())

        return await self._run(count)

    async def open_calls(self) -> list[CallRecord]:
        """Calls without an end (in progress, or left open by a crash), newest first."""
        call = self._models.call

        def get() -> list[CallRecord]:
            query = call.select().where(call.ended_at.is_null()) \
                .order_by(call.started_at.desc(), call.id.desc())
            return [_call_record(row) for row in query]

        return await self._run(get)

    async def messages_for_call(self, call_id: int) -> list[MessageRecord]:
        """The messages taken on one call, oldest first."""
        message = self._models.message

        def get() -> list[MessageRecord]:
            query = message.select().where(message.call == call_id) \
                .order_by(message.created_at, message.id)
            return [_message_record(row) for row in query]

        return await self._run(get)

    async def count_messages(self, *, since: datetime | None = None,
                             until: datetime | None = None) -> int:
        message = self._models.message

        def count() -> int:
            query = message.select()
            if since is not None:
                query = query.where(message.created_at >= since)
            if until is not None:
                query = query.where(message.created_at < until)
            return int(query.count())

        return await self._run(count)

    async def turn_timings(self, *, since: datetime | None = None,
                           until: datetime | None = None,
                           role: str = "secretary") -> list[dict[str, float]]:
        """The `timings` of one role's turns started in [since, until), oldest first."""
        _check_role(role)
        turn = self._models.turn

        def get() -> list[dict[str, float]]:
            query = turn.select(turn.timings).where(turn.role == role)
            if since is not None:
                query = query.where(turn.started_at >= since)
            if until is not None:
                query = query.where(turn.started_at < until)
            return [dict(row.timings) for row in query.order_by(turn.started_at, turn.id)]

        return await self._run(get)

    async def turns_after(self, turn_id: int, limit: int = 1000) -> list[TurnRecord]:
        """Turns with an id above `turn_id`, in id order: lets a reader follow new turns."""
        _check_page(limit, 0)
        turn = self._models.turn

        def get() -> list[TurnRecord]:
            query = turn.select().where(turn.id > turn_id).order_by(turn.id).limit(limit)
            return [_turn_record(row) for row in query]

        return await self._run(get)

    async def call_counts(self, by: str) -> dict[str | None, int]:
        """How many calls there are per `channel`, `end_reason` or `outcome`."""
        if by not in ("channel", "end_reason", "outcome"):
            raise ValueError(f"cannot count calls by {by!r}")
        call = self._models.call
        column = getattr(call, by)

        def count() -> dict[str | None, int]:
            query = call.select(column, peewee.fn.COUNT(call.id).alias("n")).group_by(column)
            return {key: int(n) for key, n in query.tuples()}

        return await self._run(count)

    async def turn_counts(self) -> dict[str, int]:
        """How many turns there are per role."""
        turn = self._models.turn

        def count() -> dict[str, int]:
            query = turn.select(turn.role, peewee.fn.COUNT(turn.id)).group_by(turn.role)
            return {role: int(n) for role, n in query.tuples()}

        return await self._run(count)

    async def forget_turns_before(self, cutoff: datetime) -> int:
        """Delete the turns (the transcript) of calls that started before `cutoff`; the call
        rows, their timings summary and messages stay. Returns how many turns went."""
        call, turn = self._models.call, self._models.turn

        def delete() -> int:
            old_calls = call.select(call.id).where(call.started_at < cutoff)
            return int(turn.delete().where(turn.call.in_(old_calls)).execute())

        return await self._run(delete)

    async def ping(self) -> None:
        """Raises when the database cannot answer a trivial query."""
        await self._run(lambda: self._db.execute_sql("SELECT 1").fetchone())

    def _call_filter(self, query: peewee.ModelSelect, since: datetime | None,
                     until: datetime | None, caller: str | None,
                     text: str | None, channel: str | None = None) -> peewee.ModelSelect:
        call, turn = self._models.call, self._models.turn
        if channel:
            query = query.where(call.channel == channel)
        if since is not None:
            query = query.where(call.started_at >= since)
        if until is not None:
            query = query.where(call.started_at < until)
        if caller:
            query = query.where(_contains(self._db, call.caller, caller))
        if text:
            said = turn.select(turn.call).where(
                _contains(self._db, turn.text, text)
                | _contains(self._db, turn.heard_text, text))
            query = query.where(call.id.in_(said))
        return query

    # for stores of other tables in the same database (the web console's accounts)

    @property
    def database(self) -> peewee.Database:
        return self._db

    async def run_in_db_thread(self, fn: Callable[[], T]) -> T:
        """Run `fn` on this store's database thread, after what was awaited before it."""
        return await self._run(fn)

    # plumbing

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._closed:
            raise RuntimeError("the store is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _setup(self) -> None:
        name = self._db.database
        if isinstance(self._db, peewee.SqliteDatabase) and name != ":memory:" \
                and not name.startswith("file:"):
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        self._db.connect(reuse_if_open=True)
        self._db.create_tables(self._models.all(), safe=True)

    @contextmanager
    def _missing_call_is_lookup_error(self, call_id: int | None) -> Iterator[None]:
        try:
            yield
        except peewee.IntegrityError:
            # Foreign keys are on: an insert fails when the call does not exist. Other
            # integrity errors are not ours to rename.
            if call_id is not None and \
                    self._models.call.get_or_none(self._models.call.id == call_id) is None:
                raise LookupError(f"no call {call_id}") from None
            raise


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}, not {role!r}")


def _check_page(limit: int, offset: int) -> None:
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")


def _like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with its own wildcards escaped."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _contains(db: peewee.Database, column: Any, text: str) -> peewee.Node:
    # ILIKE on PostgreSQL; SQLite's LIKE already ignores (ASCII) case.
    op = "ILIKE" if isinstance(db, peewee.PostgresqlDatabase) else "LIKE"
    return peewee.NodeList((column, peewee.SQL(op), _like_pattern(text),
                            peewee.SQL("ESCAPE '!'")))


def _clean_timings(timings: Mapping[str, float] | None) -> dict[str, float]:
    return {str(stage): float(ms) for stage, ms in (timings or {}).items()}


def _call_record(row: Any) -> CallRecord:
    return CallRecord(
        id=row.id, channel=row.channel, external_id=row.external_id, caller=row.caller,
        persona=row.persona, started_at=row.started_at, ended_at=row.ended_at,
        end_reason=row.end_reason, outcome=row.outcome, recording_prefix=row.recording_prefix)


def _turn_record(row: Any) -> TurnRecord:
    return TurnRecord(
        id=row.id, call_id=row.call_id, role=row.role, text=row.text,
        heard_text=row.heard_text, language=row.language, started_at=row.started_at,
        interrupted=bool(row.interrupted), timings=dict(row.timings))


def _message_record(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row.id, call_id=row.call_id, name=row.name, callback_number=row.callback_number,
        reason=row.reason, language=row.language, created_at=row.created_at)


def _contact_record(row: Any) -> ContactRecord:
    return ContactRecord(id=row.id, number=row.number, name=row.name,
                         language=row.language, notes=row.notes)
