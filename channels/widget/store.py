"""The widget's tables: instances (one per embedding site), visitor sessions (a random id
bound to an instance and to the conversation stored in `calls`), and hand-off
notifications for the owner.

Like the console's accounts, the models are built per database and bound to the
`Store`'s database, and every query runs on the store's database thread. Callers get
frozen records, never ORM objects.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import peewee

from brain.store import Store
from brain.store.models import UtcDateTimeField
from channels.widget.settings import Position, WidgetSettings

R = TypeVar("R")

# Unguessable ids, checked by shape before any database lookup.
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{12,32}")
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


def new_public_id() -> str:
    return secrets.token_urlsafe(12)  # 16 characters


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def is_session_id(text: object) -> bool:
    return isinstance(text, str) and SESSION_ID.fullmatch(text) is not None


def is_public_id(text: object) -> bool:
    return isinstance(text, str) and PUBLIC_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class WidgetInstance:
    id: int
    public_id: str
    name: str
    persona: str
    greeting: str
    accent_color: str
    text_color: str
    position: Position
    allowed_origins: tuple[str, ...]
    created_at: datetime

    def allows(self, origin: str) -> bool:
        return origin in self.allowed_origins


@dataclass(frozen=True)
class WidgetSession:
    id: int
    session_id: str
    instance_id: int
    call_id: int
    handed_off: bool
    created_at: datetime
    last_active_at: datetime


@dataclass(frozen=True)
class WidgetNotification:
    id: int
    session_id: str
    instance_name: str
    text: str
    created_at: datetime
    seen: bool


@dataclass(frozen=True)
class _Models:
    instance: type[peewee.Model]
    session: type[peewee.Model]
    notification: type[peewee.Model]

    def all(self) -> list[type[peewee.Model]]:
        return [self.instance, self.session, self.notification]


def _build_models(database: peewee.Database) -> _Models:
    class Base(peewee.Model):
        class Meta:
            legacy_table_names = False

    class Instance(Base):
        public_id = peewee.TextField(unique=True)
        name = peewee.TextField()
        persona = peewee.TextField()
        greeting = peewee.TextField()
        accent_color = peewee.TextField()
        text_color = peewee.TextField()
        position = peewee.TextField()
        allowed_origins = peewee.TextField(default="")  # one per line
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "widget_instances"

    class Session(Base):
        session_id = peewee.TextField(unique=True)
        instance = peewee.ForeignKeyField(Instance, backref="sessions", on_delete="CASCADE")
        call_id = peewee.IntegerField()  # calls.id, a conversation on channel "widget"
        handed_off = peewee.BooleanField(default=False)
        created_at = UtcDateTimeField()
        last_active_at = UtcDateTimeField(index=True)

        class Meta:
            table_name = "widget_sessions"

    class Notification(Base):
        session = peewee.ForeignKeyField(Session, backref="notifications",
                                         on_delete="CASCADE")
        text = peewee.TextField()
        created_at = UtcDateTimeField(index=True)
        seen_at = UtcDateTimeField(null=True)

        class Meta:
            table_name = "widget_notifications"

    models = _Models(instance=Instance, session=Session, notification=Notification)
    database.bind(models.all(), bind_refs=False, bind_backrefs=False)
    return models


class WidgetStore:
    """Instances, sessions and notifications. Create the tables with `create_tables()`;
    the store's lifetime is this one's."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._m = _build_models(store.database)

    async def create_tables(self) -> None:
        models = self._m.all()
        db = self._store.database
        await self._store.run_in_db_thread(lambda: db.create_tables(models, safe=True))

    # instances

    async def create_instance(self, settings: WidgetSettings) -> WidgetInstance:
        instance = self._m.instance

        def insert() -> WidgetInstance:
            row_id = instance.insert(public_id=new_public_id(), created_at=datetime.now(UTC),
                                     **_instance_fields(settings)).execute()
            return _instance_record(instance.get_by_id(row_id))

        return await self._store.run_in_db_thread(insert)

    async def update_instance(self, instance_id: int, settings: WidgetSettings) -> bool:
        instance = self._m.instance
        return bool(await self._store.run_in_db_thread(
            lambda: instance.update(**_instance_fields(settings))
            .where(instance.id == instance_id).execute()))

    async def delete_instance(self, instance_id: int) -> bool:
        instance = self._m.instance
        return bool(await self._store.run_in_db_thread(
            lambda: instance.delete().where(instance.id == instance_id).execute()))

    async def instances(self) -> list[WidgetInstance]:
        instance = self._m.instance
        return await self._store.run_in_db_thread(
            lambda: [_instance_record(r) for r in instance.select().order_by(instance.name,
                                                                              instance.id)])

    async def get_instance(self, instance_id: int) -> WidgetInstance | None:
        instance = self._m.instance
        return await self._store.run_in_db_thread(
            lambda: _maybe(_instance_record, instance.get_or_none(instance.id == instance_id)))

    async def instance_by_public_id(self, public_id: str) -> WidgetInstance | None:
        if not is_public_id(public_id):
            return None
        instance = self._m.instance
        return await self._store.run_in_db_thread(
            lambda: _maybe(_instance_record,
                           instance.get_or_none(instance.public_id == public_id)))

    # sessions

    async def add_session(self, session_id: str, instance_id: int, call_id: int) -> None:
        session = self._m.session
        now = datetime.now(UTC)
        await self._store.run_in_db_thread(
            lambda: session.insert(session_id=session_id, instance=instance_id,
                                   call_id=call_id, created_at=now,
                                   last_active_at=now).execute())

    async def get_session(self, session_id: str) -> WidgetSession | None:
        """The session of that id; None for anything malformed or unknown (the shape is
        checked first, so a junk id never reaches the database)."""
        if not is_session_id(session_id):
            return None
        session = self._m.session
        return await self._store.run_in_db_thread(
            lambda: _maybe(_session_record,
                           session.get_or_none(session.session_id == session_id)))

    async def sessions(self, instance_id: int | None = None,
                       limit: int = 50) -> list[WidgetSession]:
        """Newest activity first; hand-offs waiting for the owner first of all."""
        session = self._m.session

        def get() -> list[WidgetSession]:
            query = session.select()
            if instance_id is not None:
                query = query.where(session.instance == instance_id)
            query = query.order_by(session.handed_off.desc(), session.last_active_at.desc(),
                                   session.id.desc()).limit(limit)
            return [_session_record(row) for row in query]

        return await self._store.run_in_db_thread(get)

    async def touch(self, session_id: str) -> None:
        session = self._m.session
        now = datetime.now(UTC)
        await self._store.run_in_db_thread(
            lambda: session.update(last_active_at=now)
            .where(session.session_id == session_id).execute())

    async def set_handed_off(self, session_id: str, handed_off: bool) -> bool:
        """Returns whether this changed it (False: it already was so)."""
        session = self._m.session
        return bool(await self._store.run_in_db_thread(
            lambda: session.update(handed_off=handed_off)
            .where((session.session_id == session_id)
                   & (session.handed_off != handed_off)).execute()))

    # notifications

    async def notify(self, session_id: str, text: str) -> None:
        session, note = self._m.session, self._m.notification

        def insert() -> None:
            row = session.get_or_none(session.session_id == session_id)
            if row is not None:
                note.insert(session=row.id, text=text, created_at=datetime.now(UTC)).execute()

        await self._store.run_in_db_thread(insert)

    async def notifications(self, *, unseen_only: bool = True,
                            limit: int = 20) -> list[WidgetNotification]:
        """Newest first."""
        session, note, instance = self._m.session, self._m.notification, self._m.instance

        def get() -> list[WidgetNotification]:
            query = note.select(note, session.session_id, instance.name) \
                .join(session).join(instance)
            if unseen_only:
                query = query.where(note.seen_at.is_null())
            query = query.order_by(note.created_at.desc(), note.id.desc()).limit(limit)
            return [WidgetNotification(id=row.id, session_id=row.session.session_id,
                                       instance_name=row.session.instance.name,
                                       text=row.text, created_at=row.created_at,
                                       seen=row.seen_at is not None) for row in query]

        return await self._store.run_in_db_thread(get)

    async def mark_seen(self, session_id: str) -> None:
        session, note = self._m.session, self._m.notification
        now = datetime.now(UTC)
        await self._store.run_in_db_thread(
            lambda: note.update(seen_at=now).where(
                note.seen_at.is_null()
                & note.session.in_(session.select(session.id)
                                   .where(session.session_id == session_id))).execute())


def _instance_fields(settings: WidgetSettings) -> dict[str, str]:
    return {"name": settings.name, "persona": settings.persona, "greeting": settings.greeting,
            "accent_color": settings.accent_color, "text_color": settings.text_color,
            "position": settings.position,
            "allowed_origins": "\n".join(settings.allowed_origins)}


def _maybe(make: Callable[[peewee.Model], R], row: peewee.Model | None) -> R | None:
    return None if row is None else make(row)


def _instance_record(row: peewee.Model) -> WidgetInstance:
    return WidgetInstance(
        id=row.id, public_id=row.public_id, name=row.name, persona=row.persona,
        greeting=row.greeting, accent_color=row.accent_color, text_color=row.text_color,
        position=row.position,
        allowed_origins=tuple(o for o in row.allowed_origins.split("\n") if o),
        created_at=row.created_at)


def _session_record(row: peewee.Model) -> WidgetSession:
    return WidgetSession(
        id=row.id, session_id=row.session_id, instance_id=row.instance_id,
        call_id=row.call_id, handed_off=bool(row.handed_off), created_at=row.created_at,
        last_active_at=row.last_active_at)
