"""Console accounts: admin users (argon2 hashes, a role) and their API tokens (digests).

The tables live in the secretary's database, beside calls and messages, and every query
runs on the `Store`'s database thread (`Store.run_in_db_thread`), the same discipline as
the store itself. Callers get frozen `UserRecord`s, never ORM objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import peewee

from brain.store import Store
from brain.store.models import UtcDateTimeField
from web.auth import passwords, tokens

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    role: Role
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class TokenRecord:
    id: int
    username: str
    name: str
    created_at: datetime


def normalize_username(text: str) -> str:
    """The stored form of a user name; raises ValueError when it cannot be one."""
    name = text.strip().lower()
    if not USERNAME.fullmatch(name):
        raise ValueError("a user name is 1-64 of a-z 0-9 . _ @ - (starting with a letter "
                         "or digit)")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]


@dataclass(frozen=True)
class _Models:
    user: type[peewee.Model]
    token: type[peewee.Model]


def _build_models(database: peewee.Database) -> _Models:
    class Base(peewee.Model):
        class Meta:
            legacy_table_names = False

    class AdminUser(Base):
        username = peewee.TextField(unique=True)
        password_hash = peewee.TextField()
        role = peewee.TextField()
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "admin_users"

    class ApiToken(Base):
        user = peewee.ForeignKeyField(AdminUser, backref="tokens", on_delete="CASCADE")
        digest = peewee.TextField(unique=True)
        name = peewee.TextField(default="")
        created_at = UtcDateTimeField()

        class Meta:
            table_name = "api_tokens"

    models = _Models(user=AdminUser, token=ApiToken)
    database.bind([AdminUser, ApiToken], bind_refs=False, bind_backrefs=False)
    return models


class AccountStore:
    """Users and tokens. Open with `await AccountStore.open(store)`; the store's lifetime
    is this one's."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._m = _build_models(store.database)

    @classmethod
    async def open(cls, store: Store) -> AccountStore:
        """Create the account tables that are missing (existing rows are kept)."""
        accounts = cls(store)
        models = [accounts._m.user, accounts._m.token]
        await store.run_in_db_thread(
            lambda: store.database.create_tables(models, safe=True))
        return accounts

    # users

    async def create_user(self, username: str, password: str, role: str = "admin") -> UserRecord:
        """Raises ValueError for a bad name, password or role, or a name already taken."""
        name = normalize_username(username)
        checked_role = check_role(role)
        passwords.check_new_password(password)
        password_hash = await passwords.hash_password(password)
        user = self._m.user

        def insert() -> UserRecord:
            try:
                user_id = user.insert(username=name, password_hash=password_hash,
                                      role=checked_role, created_at=datetime.now(UTC)).execute()
            except peewee.IntegrityError:
                raise ValueError(f"user {name!r} already exists") from None
            return _user_record(user.get_by_id(user_id))

        return await self._store.run_in_db_thread(insert)

    async def set_password(self, username: str, password: str) -> UserRecord:
        """Raises LookupError for an unknown user, ValueError for a bad password."""
        passwords.check_new_password(password)
        password_hash = await passwords.hash_password(password)
        return await self._update(username, password_hash=password_hash)

    async def set_role(self, username: str, role: str) -> UserRecord:
        return await self._update(username, role=check_role(role))

    async def delete_user(self, user_id: int) -> bool:
        user = self._m.user
        return bool(await self._store.run_in_db_thread(
            lambda: user.delete().where(user.id == user_id).execute()))

    async def get_user(self, user_id: int) -> UserRecord | None:
        user = self._m.user

        def get() -> UserRecord | None:
            row = user.get_or_none(user.id == user_id)
            return None if row is None else _user_record(row)

        return await self._store.run_in_db_thread(get)

    async def users(self) -> list[UserRecord]:
        user = self._m.user
        return await self._store.run_in_db_thread(
            lambda: [_user_record(row) for row in user.select().order_by(user.username)])

    async def count_admins(self) -> int:
        user = self._m.user
        return await self._store.run_in_db_thread(
            lambda: int(user.select().where(user.role == "admin").count()))

    async def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The user when `password` is theirs; None otherwise (unknown user included)."""
        try:
            name = normalize_username(username)
        except ValueError:
            name = None
        user = self._m.user

        def get() -> tuple[UserRecord, str] | None:
            row = None if name is None else user.get_or_none(user.username == name)
            return None if row is None else (_user_record(row), row.password_hash)

        found = await self._store.run_in_db_thread(get)
        ok = await passwords.verify_password(found[1] if found else None, password)
        if not ok or found is None:
            return None
        record, password_hash = found
        if passwords.needs_rehash(password_hash):  # the library's parameters moved on
            await self._update(record.username,
                               password_hash=await passwords.hash_password(password))
        return record

    # tokens

    async def create_token(self, username: str, name: str = "") -> str:
        """A new API token for the user (shown once: only its digest is kept)."""
        key = normalize_username(username)
        token = tokens.new_token()
        user, api_token = self._m.user, self._m.token

        def insert() -> None:
            row = user.get_or_none(user.username == key)
            if row is None:
                raise LookupError(f"no user {key!r}")
            api_token.insert(user=row.id, digest=tokens.token_digest(token), name=name,
                             created_at=datetime.now(UTC)).execute()

        await self._store.run_in_db_thread(insert)
        return token

    async def user_for_token(self, token: str) -> UserRecord | None:
        if not tokens.looks_like_token(token):
            return None
        digest = tokens.token_digest(token)
        user, api_token = self._m.user, self._m.token

        def get() -> UserRecord | None:
            row = user.select().join(api_token).where(api_token.digest == digest).first()
            return None if row is None else _user_record(row)

        return await self._store.run_in_db_thread(get)

    async def tokens(self) -> list[TokenRecord]:
        user, api_token = self._m.user, self._m.token

        def get() -> list[TokenRecord]:
            query = api_token.select(api_token, user.username).join(user) \
                .order_by(api_token.created_at, api_token.id)
            return [TokenRecord(id=row.id, username=row.user.username, name=row.name,
                                created_at=row.created_at) for row in query]

        return await self._store.run_in_db_thread(get)

    async def revoke_token(self, token_id: int) -> bool:
        api_token = self._m.token
        return bool(await self._store.run_in_db_thread(
            lambda: api_token.delete().where(api_token.id == token_id).execute()))

    async def _update(self, username: str, **changes: str) -> UserRecord:
        key = normalize_username(username)
        user = self._m.user

        def update() -> UserRecord:
            if not user.update(**changes).where(user.username == key).execute():
                raise LookupError(f"no user {key!r}")
            return _user_record(user.get(user.username == key))

        return await self._store.run_in_db_thread(update)


def _user_record(row: peewee.Model) -> UserRecord:
    return UserRecord(id=row.id, username=row.username, role=row.role,
                      created_at=row.created_at)
