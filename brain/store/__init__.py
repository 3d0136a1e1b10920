"""The secretary's database: calls, turns with timings, messages for the boss, contacts.

SQLite by default, PostgreSQL by URL, behind one async API (`Store`) that hands out
frozen records, never ORM objects.
"""

from __future__ import annotations

from brain.store.records import CallRecord, ContactRecord, MessageRecord, TurnRecord
from brain.store.store import ROLES, Store, database_for_url, normalize_number

__all__ = [
    "ROLES",
    "CallRecord",
    "ContactRecord",
    "MessageRecord",
    "Store",
    "TurnRecord",
    "database_for_url",
    "normalize_number",
]
