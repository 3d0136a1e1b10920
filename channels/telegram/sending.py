"""Calls to the Bot API that honour flood control: on 429 Telegram says how long to wait
(`retry_after`); we wait that long and try again, a bounded number of times."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import TelegramRetryAfter

T = TypeVar("T")
log = logging.getLogger(__name__)


async def with_retry(call: Callable[[], Awaitable[T]], *, attempts: int = 4,
                     max_wait_s: float = 120.0) -> T:
    """`call()`, again after each 429's `retry_after`; the last 429 (or one asking for
    longer than `max_wait_s`) is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except TelegramRetryAfter as exc:
            if attempt == attempts or exc.retry_after > max_wait_s:
                raise
            log.info("Telegram flood control: waiting %s s", exc.retry_after)
            await asyncio.sleep(exc.retry_after)
    raise AssertionError("unreachable")  # the loop returns or raises
