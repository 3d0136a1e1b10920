"""The database schema as peewee models, built per database.

`build_models(database)` defines fresh model classes bound to one database, so two stores
in one process (the secretary and a reader on the same file, or tests) never share the
class-level binding that `Model.bind` would change under each other's feet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import peewee


class UtcDateTimeField(peewee.DateTimeField):
    """Stores naive UTC (so text order on SQLite is time order) and returns aware UTC.

    Naive input is taken as local time, as `datetime.astimezone` does.
    """

    def db_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value: Any) -> Any:
        value = super().python_value(value)
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


class JsonDictField(peewee.TextField):
    """A dict kept as JSON text: portable across SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> Any:
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value: Any) -> Any:
        return {} if value is None else json.loads(value)


@dataclass(frozen=True)
class Models:
    """The model classes of one database."""

    call: type[peewee.Model]
    turn: type[peewee.Model]
    message: type[peewee.Model]
    contact: type[peewee.Model]

    def all(self) -> list[type[peewee.Model]]:
        return [self.call, self.turn, self.message, self.contact]


def build_models(database: peewee.Database) -> Models:
    class Base(peewee.Model):
        class Meta:
            legacy_table_names = False

    class Call(Base):
        channel = peewee.TextField()  # "phone", "telegram", "web"
        external_id = peewee.TextField()  # the channel's own id (ARI channel id, chat id)
        caller = peewee.TextField(index=True)
        persona = peewee.TextField()
        started_at = UtcDateTimeField(index=True)
        ended_at = UtcDateTimeField(null=True)
        end_reason = peewee.TextField(null=True)
        outcome = peewee.TextField(null=True)
        recording_prefix = peewee.TextField(null=True)

        class Meta:
            table_name = "calls"

    class Turn(Base):
        call = peewee.ForeignKeyField(Call, backref="turns", on_delete="CASCADE", index=True)
        role = peewee.TextField()
        text = peewee.TextField()
        heard_text = peewee.TextField(null=True)
        language = peewee.TextField(null=True)
        started_at = UtcDateTimeField()
        interrupted = peewee.BooleanField(default=False)
        timings = JsonDictField(default=dict)

        class Meta:
            table_name = "turns"

    class Message(Base):
        call = peewee.ForeignKeyField(Call, null=True, backref="messages", on_delete="SET NULL")
        name = peewee.TextField()
        callback_number = peewee.TextField()
        reason = peewee.TextField()
        language = peewee.TextField(null=True)
        created_at = UtcDateTimeField(index=True)

        class Meta:
            table_name = "messages"

    class Contact(Base):
        number = peewee.TextField(unique=True)
        name = peewee.TextField()
        language = peewee.TextField(null=True)
        notes = peewee.TextField(default="")

        class Meta:
            table_name = "contacts"

    models = Models(call=Call, turn=Turn, message=Message, contact=Contact)
    database.bind(models.all(), bind_refs=False, bind_backrefs=False)
    return models
