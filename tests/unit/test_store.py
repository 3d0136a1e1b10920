"""brain.store against real SQLite files: round trips, merging, upserts, crash safety."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import peewee
import pytest

from brain.store import (
    CallRecord,
    ContactRecord,
    MessageRecord,
    Store,
    TurnRecord,
    database_for_url,
    normalize_number,
)

T0 = datetime(2024, 5, 6, 10, 0, 0, tzinfo=UTC)
MSK = timezone(timedelta(hours=3))


def url_for(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "not" / "yet" / "secretary.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(url_for(db_path))
    yield store
    await store.close()


async def start(store: Store, caller: str = "+79123456789", *, channel: str = "phone",
                at: datetime = T0, external_id: str = "ch-1") -> int:
    return await store.start_call(channel=channel, external_id=external_id, caller=caller,
                                  persona="anna", started_at=at)


def inspect_file(path: Path) -> tuple[str, set[tuple[str, tuple[str, ...], bool]]]:
    """The journal mode and the (table, columns, unique) indexes, read with plain sqlite3."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        [mode] = con.execute("PRAGMA journal_mode").fetchone()
        indexes = {(table, tuple(col for *_, col in con.execute(f"PRAGMA index_info('{name}')")),
                    bool(unique))
                   for table in ("calls", "turns", "messages", "contacts")
                   for _, name, unique, *_ in con.execute(f"PRAGMA index_list('{table}')")}
    finally:
        con.close()
    return mode, indexes


async def test_open_creates_parent_dir_wal_and_indexes(store: Store, db_path: Path) -> None:
    mode, indexed = await asyncio.to_thread(inspect_file, db_path)
    assert mode == "wal"
    assert {("calls", ("started_at",), False), ("calls", ("caller",), False),
            ("turns", ("call_id",), False), ("messages", ("created_at",), False),
            ("contacts", ("number",), True)} <= indexed


async def test_call_round_trip(store: Store) -> None:
    started = datetime(2024, 5, 6, 13, 0, 0, 250000, tzinfo=MSK)
    call_id = await store.start_call(channel="phone", external_id="1715000000.1",
                                     caller="+79123456789", persona="anna",
                                     started_at=started, recording_prefix="calls_log/x/1")
    call = await store.get_call(call_id)
    assert call == CallRecord(id=call_id, channel="phone", external_id="1715000000.1",
                              caller="+79123456789", persona="anna", started_at=started,
                              ended_at=None, end_reason=None, outcome=None,
                              recording_prefix="calls_log/x/1")
    assert call.started_at.tzinfo is UTC and call.started_at.hour == 10

    ended = started + timedelta(seconds=42)
    await store.end_call(call_id, ended_at=ended, reason="caller hung up", outcome="message")
    call = await store.get_call(call_id)
    assert (call.ended_at, call.end_reason, call.outcome) == (ended, "caller hung up", "message")

    assert await store.get_call(call_id + 1) is None
    with pytest.raises(LookupError):
        await store.end_call(call_id + 1, ended_at=ended, reason="x")


async def test_naive_datetimes_are_local_time(store: Store) -> None:
    naive = datetime(2024, 5, 6, 12, 30)
    call = await store.get_call(await start(store, at=naive))
    assert call.started_at == naive.astimezone(UTC)


async def test_turn_round_trip_and_timings_merge(store: Store) -> None:
    call_id = await start(store)
    caller_turn = await store.add_turn(call_id, role="caller", text="Здравствуйте",
                                       started_at=T0 + timedelta(seconds=3), language="ru",
                                       timings={"stt_final": 180})
    reply = await store.add_turn(call_id, role="secretary", text="Добрый день, это Анна.",
                                 started_at=T0 + timedelta(seconds=5), language="ru",
                                 timings={"llm_first_token": 310.5})
    # Added later but started first: the greeting.
    greeting = await store.add_turn(call_id, role="secretary", text="Алло", started_at=T0)
    await store.update_turn(reply, heard_text="Добрый день", interrupted=True,
                            timings={"tts_first_audio": 95.25, "llm_first_token": 300})
    await store.update_turn(reply, timings={"playout": 800})

    turns = await store.turns(call_id)
    assert [t.id for t in turns] == [greeting, caller_turn, reply]
    assert turns[0] == TurnRecord(id=greeting, call_id=call_id, role="secretary", text="Алло",
                                  heard_text=None, language=None, started_at=T0,
                                  interrupted=False, timings={})
    assert turns[1].timings == {"stt_final": 180.0}
    assert turns[2] == TurnRecord(
        id=reply, call_id=call_id, role="secretary", text="Добрый день, это Анна.",
        heard_text="Добрый день", language="ru", started_at=T0 + timedelta(seconds=5),
        interrupted=True,
        timings={"llm_first_token": 300.0, "tts_first_audio": 95.25, "playout": 800.0})

    await store.update_turn(reply, text="Добрый день")  # other fields stay
    after = (await store.turns(call_id))[2]
    assert (after.text, after.heard_text, after.interrupted, after.timings) == \
        ("Добрый день", "Добрый день", True, turns[2].timings)

    assert await store.turns(call_id + 1) == []
    with pytest.raises(LookupError):
        await store.update_turn(reply + 100, text="x")
    with pytest.raises(LookupError):
        await store.add_turn(call_id + 1, role="caller", text="x", started_at=T0)
    with pytest.raises(ValueError):
        await store.add_turn(call_id, role="boss", text="x", started_at=T0)
    assert len(await store.turns(call_id)) == 3


async def test_messages(store: Store) -> None:
    call_id = await start(store)
    first = await store.save_message(call_id=call_id, name="Иван", callback_number="+7912",
                                     reason="перезвонить по договору", language="ru",
                                     created_at=T0)
    second = await store.save_message(call_id=None, name="Bob", callback_number="555",
                                      reason="invoice", language=None,
                                      created_at=T0 + timedelta(minutes=1))
    newest_first = await store.messages()
    assert newest_first == [
        MessageRecord(id=second, call_id=None, name="Bob", callback_number="555",
                      reason="invoice", language=None, created_at=T0 + timedelta(minutes=1)),
        MessageRecord(id=first, call_id=call_id, name="Иван", callback_number="+7912",
                      reason="перезвонить по договору", language="ru", created_at=T0),
    ]
    assert [m.id for m in await store.messages(limit=1, offset=1)] == [first]
    with pytest.raises(LookupError):
        await store.save_message(call_id=call_id + 1, name="x", callback_number="1",
                                 reason="x", language=None, created_at=T0)


@pytest.mark.parametrize(("raw", "key"), [
    ("+7 (912) 345-67-89", "+79123456789"),
    ("8 912 345 67 89", "89123456789"),
    ("  79123456789 ", "79123456789"),
    ("+1.555.010.0000", "+15550100000"),
    ("Tester", "tester"),
    ("sip-User_2", "sip-user_2"),
    ("anonymous", "anonymous"),
])
def test_normalize_number(raw: str, key: str) -> None:
    assert normalize_number(raw) == key


async def test_contacts_upsert_and_normalisation(store: Store) -> None:
    assert await store.contact_for("+79123456789") is None
    created = await store.remember_contact("+7 (912) 345-67-89", "Иван Петрович", "ru")
    assert created == ContactRecord(id=created.id, number="+79123456789", name="Иван Петрович",
                                    language="ru", notes="")
    assert await store.contact_for("+7 912 345 67 89") == created

    renamed = await store.remember_contact("+79123456789", "Иван")  # language kept
    assert renamed == ContactRecord(id=created.id, number="+79123456789", name="Иван",
                                    language="ru", notes="")
    relang = await store.remember_contact("+79123456789", "Иван", "en")
    assert relang.language == "en" and relang.id == created.id

    sip = await store.remember_contact("Tester", "Test user")
    assert (await store.contact_for("tester")) == sip and sip.number == "tester"
    assert sip.id != created.id
    with pytest.raises(ValueError):
        await store.remember_contact(" ", "nobody")
    with pytest.raises(ValueError):
        await store.remember_contact("+7912", "  ")
    assert await store.contact_for("") is None


async def test_latest_and_recent_calls(store: Store) -> None:
    assert await store.latest_call() is None
    a1 = await start(store, "+7111", at=T0)
    b1 = await start(store, "+7222", at=T0 + timedelta(minutes=1))
    a2 = await start(store, "+7111", at=T0 + timedelta(minutes=2))
    tg = await start(store, "+7111", channel="telegram", at=T0 + timedelta(minutes=3))
    old = await start(store, "+7111", at=T0 - timedelta(days=1))  # inserted last, oldest

    assert (await store.latest_call()).id == tg
    assert (await store.latest_call(caller="+7111", channel="phone")).id == a2
    assert (await store.latest_call(caller="+7222")).id == b1
    assert (await store.latest_call(channel="telegram")).id == tg
    assert await store.latest_call(caller="+7333") is None

    assert [c.id for c in await store.recent_calls()] == [tg, a2, b1, a1, old]
    assert [c.id for c in await store.recent_calls(limit=2, offset=1)] == [a2, b1]
    assert await store.recent_calls(limit=0) == []


async def test_end_open_calls(store: Store) -> None:
    done = await start(store)
    await store.end_call(done, ended_at=T0 + timedelta(seconds=5), reason="hangup")
    open_ids = [await start(store, external_id=f"ch-{i}") for i in range(3)]
    crash_time = T0 + timedelta(hours=1)

    assert await store.end_open_calls(ended_at=crash_time, reason="restart") == 3
    assert await store.end_open_calls(ended_at=crash_time, reason="restart") == 0
    for call_id in open_ids:
        call = await store.get_call(call_id)
        assert (call.ended_at, call.end_reason) == (crash_time, "restart")
    kept = await store.get_call(done)
    assert (kept.ended_at, kept.end_reason) == (T0 + timedelta(seconds=5), "hangup")


async def test_second_store_sees_committed_rows(store: Store, db_path: Path) -> None:
    reader = await Store.open(url_for(db_path))
    try:
        call_id = await start(store)
        turn = await store.add_turn(call_id, role="caller", text="hello", started_at=T0)
        assert (await reader.get_call(call_id)).caller == "+79123456789"
        await store.update_turn(turn, timings={"stt": 1.5})
        assert (await reader.turns(call_id))[0].timings == {"stt": 1.5}
        # ...and the other way round, with both open.
        await reader.remember_contact("+7 912", "Anna's boss")
        assert (await store.contact_for("+7912")).name == "Anna's boss"
    finally:
        await reader.close()


async def test_concurrent_turns_keep_every_row(store: Store) -> None:
    calls = [await start(store, external_id=f"ch-{i}") for i in range(4)]
    count = 200

    async def one(i: int) -> int:
        call_id = calls[i % len(calls)]
        turn = await store.add_turn(call_id, role="caller", text=f"turn {i}",
                                    started_at=T0 + timedelta(milliseconds=i))
        await store.update_turn(turn, timings={f"stage{i % 3}": float(i)})
        return turn

    ids = await asyncio.gather(*(one(i) for i in range(count)))
    assert len(set(ids)) == count
    texts: list[str] = []
    for call_id in calls:
        turns = await store.turns(call_id)
        texts += [t.text for t in turns]
        assert all(len(t.timings) == 1 for t in turns)
    assert sorted(texts) == sorted(f"turn {i}" for i in range(count))


async def test_dropped_store_keeps_what_was_written(db_path: Path) -> None:
    store = await Store.open(url_for(db_path))
    call_id = await start(store)
    await store.add_turn(call_id, role="caller", text="hi", started_at=T0)
    del store  # never closed

    reopened = await Store.open(url_for(db_path))
    try:
        assert [t.text for t in await reopened.turns(call_id)] == ["hi"]
    finally:
        await reopened.close()


async def test_killed_process_keeps_what_was_written(db_path: Path) -> None:
    # A separate process writes, then dies without closing (no checkpoint, no cleanup).
    script = textwrap.dedent(f"""
        import asyncio, os
        from datetime import UTC, datetime
        from brain.store import Store

        async def main():
            store = await Store.open({url_for(db_path)!r})
            t = datetime(2024, 5, 6, 10, 0, tzinfo=UTC)
            call = await store.start_call(channel="phone", external_id="x", caller="+7111",
                                          persona="anna", started_at=t)
            turn = await store.add_turn(call, role="caller", text="hi", started_at=t,
                                        timings={{"stt": 120.0}})
            await store.update_turn(turn, interrupted=True, timings={{"llm": 300.0}})
            await store.save_message(call_id=call, name="Ivan", callback_number="+7111",
                                     reason="call back", language="ru", created_at=t)
            await store.remember_contact("+7111", "Ivan")
            os._exit(9)

        asyncio.run(main())
    """)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 9, stderr.decode()

    store = await Store.open(url_for(db_path))
    try:
        call = await store.latest_call(caller="+7111")
        assert call is not None and call.ended_at is None
        [turn] = await store.turns(call.id)
        assert turn.interrupted and turn.timings == {"stt": 120.0, "llm": 300.0}
        [message] = await store.messages()
        assert (message.call_id, message.name) == (call.id, "Ivan")
        assert (await store.contact_for("+7 111")).name == "Ivan"
        assert await store.end_open_calls(ended_at=T0 + timedelta(hours=1),
                                          reason="restart") == 1
    finally:
        await store.close()


async def test_memory_database_and_closed_store() -> None:
    store = await Store.open("sqlite:///:memory:")
    call_id = await start(store)
    assert (await store.get_call(call_id)).id == call_id
    await store.close()
    await store.close()  # twice is fine
    with pytest.raises(RuntimeError):
        await store.get_call(call_id)


def test_postgresql_url_builds_postgres_database() -> None:
    db = database_for_url("postgresql://secretary:s3cret@db.internal:6543/calls")
    assert isinstance(db, peewee.PostgresqlDatabase)
    assert db.database == "calls"
    assert db.connect_params == {"user": "secretary", "password": "s3cret",
                                 "host": "db.internal", "port": 6543}
    assert db.is_closed()
    sqlite_db = database_for_url("sqlite:////var/lib/secretary/secretary.db")
    assert isinstance(sqlite_db, peewee.SqliteDatabase)
    assert sqlite_db.database == "/var/lib/secretary/secretary.db"


async def test_postgresql_unreachable_fails_cleanly() -> None:
    with socket.socket() as sock:  # a port on which nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(peewee.OperationalError):
        await Store.open(f"postgresql://u:p@127.0.0.1:{port}/secretary")
