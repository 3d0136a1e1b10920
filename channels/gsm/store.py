"""The GSM line's own table: every SMS received and sent (direction, number, text, parts,
time), on the secretary's database beside the calls. Built per database like the widget's
tables; every query runs on the store's database thread; callers get frozen records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import peewee

from brain.store import Store
from brain.store.models import UtcDateTimeField

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class SmsRecord:
    id: int
    direction: Direction
    number: str
    text: str
    parts: int
    complete: bool  # False: a received text some of whose parts never came
    at: datetime


def _build_model(database: peewee.Database) -> type[peewee.Model]:
    class Sms(peewee.Model):
        direction = peewee.TextField()
        number = peewee.TextField(index=True)
        text = peewee.TextField()
        parts = peewee.IntegerField(default=1)
        complete = peewee.BooleanField(default=True)
        at = UtcDateTimeField(index=True)

        class Meta:
            table_name = "gsm_sms"
            legacy_table_names = False

    database.bind([Sms], bind_refs=False, bind_backrefs=False)
    return Sms


def _record(row: peewee.Model) -> SmsRecord:
    return SmsRecord(id=row.id, direction=row.direction, number=row.number, text=row.text,
                     parts=row.parts, complete=row.complete, at=row.at)


class SmsStore:
    """Create the table with `create_tables()`; the store's lifetime is this one's."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sms = _build_model(store.database)

    async def create_tables(self) -> None:
        db, model = self._store.database, self._sms
        await self._store.run_in_db_thread(lambda: db.create_tables([model], safe=True))

    async def add(self, direction: Direction, number: str, text: str, *, parts: int = 1,
                  complete: bool = True, at: datetime | None = None) -> SmsRecord:
        model = self._sms
        when = at or datetime.now(UTC)

        def insert() -> SmsRecord:
            row_id = model.insert(direction=direction, number=number, text=text, parts=parts,
                                  complete=complete, at=when).execute()
            return _record(model.get_by_id(row_id))

        return await self._store.run_in_db_thread(insert)

    async def recent(self, limit: int = 50, direction: Direction | None = None
                     ) -> list[SmsRecord]:
        """Newest first."""
        model = self._sms

        def get() -> list[SmsRecord]:
            query = model.select()
            if direction is not None:
                query = query.where(model.direction == direction)
            return [_record(r) for r in query.order_by(model.at.desc(), model.id.desc())
                    .limit(limit)]

        return await self._store.run_in_db_thread(get)
