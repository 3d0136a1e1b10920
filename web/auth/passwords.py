"""Password hashing with argon2id (argon2-cffi): hash, verify, and when to re-hash.

Hashing costs tens of milliseconds of CPU and memory on purpose, so the async helpers run
it off the event loop.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; a megabyte "password" is a DoS


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # the library's current recommended parameters


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("not a password anyone has")


def check_new_password(password: str) -> None:
    """Raises ValueError when `password` is not acceptable for a new account."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password may have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password_sync(password: str) -> str:
    return _hasher().hash(password)


def verify_password_sync(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. With no hash (unknown user) a dummy hash is checked
    anyway, so an answer takes as long whether or not the user exists."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) \
            and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password_sync, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(verify_password_sync, password_hash, password)
