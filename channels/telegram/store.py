"""The Telegram channel's tables: bots (token, persona, voice, whitelist, menu, funnel,
owner chat and how far its notifications got), users of a bot (quiz segment, news
subscription), payments (one row per provider charge id, so a replay records nothing new),
requirement documents (leads) and the GitHub deliveries already broadcast.

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

from brain.store import MessageRecord, Store
from brain.store.models import UtcDateTimeField
from channels.telegram.menu import DEFAULT_MENU, MenuButton, parse_menu

R = TypeVar("R")

TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{10,100}")
SEGMENTS = ("diy", "basic", "custom")
MAX_SCAN = 2000  # phone messages looked through per notifier pass, at most


@dataclass(frozen=True)
class BotRecord:
    id: int
    name: str
    token: str
    webhook_secret: str
    persona: str
    voice_replies: bool
    voice: str  # "" = the persona's own voice
    whitelist: frozenset[int]  # empty: everyone may talk to the bot
    enabled: bool
    owner_chat_id: int | None
    menu: str
    funnel: bool
    notified_message_id: int  # the last phone message sent to the owner
    created_at: datetime

    @property
    def masked_token(self) -> str:
        head, _, tail = self.token.partition(":")
        return f"{head}:…{tail[-4:]}" if tail else "…"

    def allows(self, user_id: int | None) -> bool:
        return not self.whitelist or (user_id is not None and user_id in self.whitelist)

    def buttons(self) -> tuple[MenuButton, ...]:
        try:
            return parse_menu(self.menu)
        except ValueError:  # saved before a rule tightened: the default beats no menu
            return parse_menu(DEFAULT_MENU)


@dataclass(frozen=True)
class BotInput:
    """What the admin sets on a bot; `token` None keeps the stored one on an update."""

    name: str
    token: str | None
    persona: str
    voice_replies: bool = False
    voice: str = ""
    whitelist: frozenset[int] = frozenset()
    enabled: bool = True
    owner_chat_id: int | None = None
    menu: str = DEFAULT_MENU
    funnel: bool = False


def parse_whitelist(text: str) -> frozenset[int]:
    """Telegram user ids separated by commas, spaces or lines; ValueError otherwise."""
    ids: set[int] = set()
    for part in re.split(r"[\s,;]+", text.strip()):
        if not part:
            continue
        if not re.fullmatch(r"-?\d{1,20}", part):
            raise ValueError(f"{part!r} is not a Telegram user id (digits only)")
        ids.add(int(part))
    return frozenset(ids)


def check_bot_input(data: BotInput) -> BotInput:
    """Raises ValueError with a message for the admin when a field cannot be stored."""
    if not data.name.strip() or len(data.name) > 100:
        raise ValueError("a bot needs a name (up to 100 characters)")
    if data.token is not None and not TOKEN.fullmatch(data.token):
        raise ValueError("the token looks wrong: BotFather gives '<digits>:<letters>'")
    if not data.persona:
        raise ValueError("choose a persona")
    parse_menu(data.menu)
    return data


@dataclass(frozen=True)
class PaymentRecord:
    id: int
    provider: str  # "stars" or "yoomoney"
    charge_id: str
    bot_id: int | None
    chat_id: int | None
    amount: str
    currency: str
    payload: str
    created_at: datetime


@dataclass(frozen=True)
class LeadRecord:
    id: int
    bot_id: int
    chat_id: int
    status: str
    document: str
    created_at: datetime


@dataclass(frozen=True)
class _Models:
    bot: type[peewee.Model]
    user: type[peewee.Model]
    payment: type[peewee.Model]
    lead: type[peewee.Model]
    delivery: type[peewee.Model]

    def all(self) -> list[type[peewee.Model]]:
        return [self.bot, self.user, self.payment, self.lead, self.delivery]


def _build_models(database: peewee.Database) -> _Models:
    class Base(peewee.Model):
        class Meta:
            legacy_table_names = False

    class TelegramBot(Base):
        name = peewee.TextField()
        token = peewee.TextField(unique=True)
        webhook_secret = peewee.TextField()
        persona = peewee.TextField()
        voice_replies = peewee.BooleanField(default=False)
        voice = peewee.TextField(default="")
        whitelist = peewee.TextField(default="")  # ids, space separated
        enabled = peewee.BooleanField(default=True)
        owner_chat_id = peewee.BigIntegerField(null=True)
        menu = peewee.TextField(default=DEFAULT_MENU)
        funnel = peewee.BooleanField(default=False)
        notified_message_id = peewee.IntegerField(default=0)
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "telegram_bots"

    class TelegramUser(Base):
        bot = peewee.ForeignKeyField(TelegramBot, on_delete="CASCADE")
        chat_id = peewee.BigIntegerField()
        segment = peewee.TextField(null=True)
        subscribed = peewee.BooleanField(default=False)

        class Meta:
            table_name = "telegram_users"
            indexes = ((("bot", "chat_id"), True),)

    class TelegramPayment(Base):
        provider = peewee.TextField()
        charge_id = peewee.TextField()
        bot_id = peewee.IntegerField(null=True)  # no foreign key: a payment outlives its bot
        chat_id = peewee.BigIntegerField(null=True)
        amount = peewee.TextField()
        currency = peewee.TextField()
        payload = peewee.TextField(default="")
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "telegram_payments"
            indexes = ((("provider", "charge_id"), True),)

    class TelegramLead(Base):
        bot = peewee.ForeignKeyField(TelegramBot, on_delete="CASCADE")
        chat_id = peewee.BigIntegerField()
        status = peewee.TextField()
        document = peewee.TextField()
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "telegram_leads"

    class TelegramDelivery(Base):
        delivery_id = peewee.TextField(unique=True)
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "telegram_deliveries"

    models = _Models(bot=TelegramBot, user=TelegramUser, payment=TelegramPayment,
                     lead=TelegramLead, delivery=TelegramDelivery)
    database.bind(models.all(), bind_refs=False, bind_backrefs=False)
    return models


class BotStore:
    """Bots and what the funnel records. Create the tables with `create_tables()`; the
    store's lifetime is this one's."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._m = _build_models(store.database)

    async def create_tables(self) -> None:
        models = self._m.all()
        await self._run(lambda: self._store.database.create_tables(models, safe=True))

    # bots

    async def create_bot(self, data: BotInput) -> BotRecord:
        check_bot_input(data)
        if data.token is None:
            raise ValueError("a new bot needs its token")
        # The owner hears of messages taken from now on, not of the whole history.
        newest = await self._store.messages(limit=1)
        last_id = newest[0].id if newest else 0
        bot = self._m.bot

        def insert() -> BotRecord:
            try:
                bot_id = bot.insert(**_bot_fields(data), token=data.token,
                                    webhook_secret=secrets.token_urlsafe(32),
                                    notified_message_id=last_id,
                                    created_at=datetime.now(UTC)).execute()
            except peewee.IntegrityError:
                raise ValueError("a bot with this token already exists") from None
            return _bot_record(bot.get_by_id(bot_id))

        return await self._run(insert)

    async def update_bot(self, bot_id: int, data: BotInput) -> BotRecord:
        """Raises LookupError for an unknown bot, ValueError for bad input."""
        check_bot_input(data)
        bot = self._m.bot
        fields = _bot_fields(data)
        if data.token is not None:
            fields["token"] = data.token

        def update() -> BotRecord:
            try:
                changed = bot.update(**fields).where(bot.id == bot_id).execute()
            except peewee.IntegrityError:
                raise ValueError("a bot with this token already exists") from None
            if not changed:
                raise LookupError(f"no bot {bot_id}")
            return _bot_record(bot.get_by_id(bot_id))

        return await self._run(update)

    async def set_enabled(self, bot_id: int, enabled: bool) -> bool:
        bot = self._m.bot
        return bool(await self._run(
            lambda: bot.update(enabled=enabled).where(bot.id == bot_id).execute()))

    async def delete_bot(self, bot_id: int) -> bool:
        bot = self._m.bot
        return bool(await self._run(lambda: bot.delete().where(bot.id == bot_id).execute()))

    async def get_bot(self, bot_id: int) -> BotRecord | None:
        bot = self._m.bot

        def get() -> BotRecord | None:
            row = bot.get_or_none(bot.id == bot_id)
            return None if row is None else _bot_record(row)

        return await self._run(get)

    async def bots(self) -> list[BotRecord]:
        bot = self._m.bot
        return await self._run(
            lambda: [_bot_record(row) for row in bot.select().order_by(bot.id)])

    async def set_notified(self, bot_id: int, message_id: int) -> None:
        """Move the owner's cursor forward (never back: two writers cannot rewind it)."""
        bot = self._m.bot
        await self._run(lambda: bot.update(notified_message_id=message_id)
                        .where((bot.id == bot_id) & (bot.notified_message_id < message_id))
                        .execute())

    async def messages_after(self, message_id: int, limit: int = 200) -> list[MessageRecord]:
        """Phone messages with an id above `message_id`, oldest first, at most `limit`
        (the oldest ones: the rest come on the next pass)."""
        found: list[MessageRecord] = []
        page = 50
        for offset in range(0, MAX_SCAN, page):  # newest first: walk back to the cursor
            batch = await self._store.messages(limit=page, offset=offset)
            found += [m for m in batch if m.id > message_id]
            if len(batch) < page or any(m.id <= message_id for m in batch):
                break
        return sorted(found, key=lambda m: m.id)[:limit]

    # users

    async def set_segment(self, bot_id: int, chat_id: int, segment: str) -> None:
        if segment not in SEGMENTS:
            raise ValueError(f"unknown segment {segment!r}")
        await self._upsert_user(bot_id, chat_id, segment=segment)

    async def set_subscribed(self, bot_id: int, chat_id: int, subscribed: bool) -> None:
        await self._upsert_user(bot_id, chat_id, subscribed=subscribed)

    async def segment(self, bot_id: int, chat_id: int) -> str | None:
        user = self._m.user

        def get() -> str | None:
            row = user.get_or_none((user.bot == bot_id) & (user.chat_id == chat_id))
            return None if row is None else row.segment

        return await self._run(get)

    async def subscribers(self, bot_id: int) -> list[int]:
        user = self._m.user
        return await self._run(lambda: [row.chat_id for row in user.select().where(
            (user.bot == bot_id) & user.subscribed).order_by(user.id)])

    async def _upsert_user(self, bot_id: int, chat_id: int, **changes: object) -> None:
        user = self._m.user

        def upsert() -> None:
            user.insert(bot=bot_id, chat_id=chat_id, **changes).on_conflict(
                conflict_target=[user.bot, user.chat_id],
                update={getattr(user, key): value for key, value in changes.items()},
            ).execute()

        await self._run(upsert)

    # payments, leads, deliveries

    async def record_payment(self, *, provider: str, charge_id: str, bot_id: int | None,
                             chat_id: int | None, amount: str, currency: str,
                             payload: str = "") -> bool:
        """True when this charge is new; False for a replay (nothing is written)."""
        payment = self._m.payment

        def insert() -> bool:
            return _insert_once(lambda: payment.insert(
                provider=provider, charge_id=charge_id, bot_id=bot_id, chat_id=chat_id,
                amount=amount, currency=currency, payload=payload,
                created_at=datetime.now(UTC)).execute())

        return await self._run(insert)

    async def payments(self) -> list[PaymentRecord]:
        payment = self._m.payment
        return await self._run(lambda: [PaymentRecord(
            id=row.id, provider=row.provider, charge_id=row.charge_id, bot_id=row.bot_id,
            chat_id=row.chat_id, amount=row.amount, currency=row.currency,
            payload=row.payload, created_at=row.created_at)
            for row in payment.select().order_by(payment.id)])

    async def save_lead(self, bot_id: int, chat_id: int, status: str, document: str) -> int:
        lead = self._m.lead
        return await self._run(lambda: int(lead.insert(
            bot=bot_id, chat_id=chat_id, status=status, document=document,
            created_at=datetime.now(UTC)).execute()))

    async def leads(self) -> list[LeadRecord]:
        lead = self._m.lead
        return await self._run(lambda: [LeadRecord(
            id=row.id, bot_id=row.bot_id, chat_id=row.chat_id, status=row.status,
            document=row.document, created_at=row.created_at)
            for row in lead.select().order_by(lead.id)])

    async def claim_delivery(self, delivery_id: str) -> bool:
        """True the first time a webhook delivery id is seen, False for a replay."""
        delivery = self._m.delivery
        return await self._run(lambda: _insert_once(lambda: delivery.insert(
            delivery_id=delivery_id, created_at=datetime.now(UTC)).execute()))

    async def deliveries(self) -> int:
        delivery = self._m.delivery
        return await self._run(lambda: int(delivery.select().count()))

    async def _run(self, fn: Callable[[], R]) -> R:
        return await self._store.run_in_db_thread(fn)


def _insert_once(insert: Callable[[], object]) -> bool:
    """Run an insert guarded by a unique index: True when it wrote, False when the row was
    there already. (INSERT OR IGNORE's last row id cannot tell the two apart on SQLite.)"""
    try:
        insert()
    except peewee.IntegrityError:
        return False
    return True


def _bot_fields(data: BotInput) -> dict[str, object]:
    return {"name": data.name.strip(), "persona": data.persona,
            "voice_replies": data.voice_replies, "voice": data.voice.strip(),
            "whitelist": " ".join(str(i) for i in sorted(data.whitelist)),
            "enabled": data.enabled, "owner_chat_id": data.owner_chat_id,
            "menu": data.menu.strip(), "funnel": data.funnel}


def _bot_record(row: peewee.Model) -> BotRecord:
    return BotRecord(
        id=row.id, name=row.name, token=row.token, webhook_secret=row.webhook_secret,
        persona=row.persona, voice_replies=row.voice_replies, voice=row.voice,
        whitelist=parse_whitelist(row.whitelist), enabled=row.enabled,
        owner_chat_id=row.owner_chat_id, menu=row.menu, funnel=row.funnel,
        notified_message_id=row.notified_message_id, created_at=row.created_at)
