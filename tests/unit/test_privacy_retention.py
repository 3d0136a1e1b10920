"""Privacy: digit runs masked in what is stored, and expired call data deleted (files in a
real calls_log folder, turns in a real SQLite database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ari_app.call_log import TranscriptLog
from brain.privacy import mask_numbers
from brain.store import Store
from secretary.retention import purge
from secretary.settings import PROJECT_ROOT, PrivacySettings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "masked"), [
    ("call me on +7 (912) 345-67-89 please", "call me on +* (***) ***-**-89 please"),
    ("card 4111 1111 1111 1111", "card **** **** **** **11"),
    ("07700900123.", "*********23."),
    # prices, years, times and dates are not numbers to hide
    ("90 pounds on 12.03.2026 at 10:30, room 12", "90 pounds on 12.03.2026 at 10:30, room 12"),
])
def test_phone_and_card_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


async def test_masking_store_and_transcript_never_hold_the_number(tmp_path: Path) -> None:
    number = "my number is 8 912 345 67 89"
    async with await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}",
                                redact=mask_numbers) as store:
        call_id = await store.start_call(channel="phone", external_id="x", caller="c",
                                         persona="anna", started_at=NOW)
        turn_id = await store.add_turn(call_id, role="caller", text=number, started_at=NOW)
        await store.update_turn(turn_id, heard_text=number)
        (turn,) = await store.turns(call_id)
    assert "345" not in turn.text and turn.text.endswith("89")
    assert turn.heard_text == turn.text
    log = TranscriptLog(tmp_path / "call_1", redact=mask_numbers)
    log.write("Caller", number)
    log.close()
    assert "912" not in log.path.read_text()


def touch(path: Path, age: timedelta) -> Path:
    path.write_bytes(b"RIFF")
    stamp = (NOW - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


async def test_purge_deletes_only_what_outlived_the_policy(tmp_path: Path) -> None:
    calls_log = tmp_path / "calls_log"
    calls_log.mkdir()
    old_wav = touch(calls_log / "call_1_input.wav", timedelta(days=40))
    new_wav = touch(calls_log / "call_2_output.wav", timedelta(days=5))
    old_text = touch(calls_log / "call_1_transcript.txt", timedelta(days=40))
    other = touch(calls_log / "notes.wav", timedelta(days=400))  # not a call file
    policy = PrivacySettings(recordings_days=30, transcripts_days=30)
    async with await Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        ids = []
        for started in (NOW - timedelta(days=40), NOW - timedelta(days=1)):
            call_id = await store.start_call(channel="phone", external_id="x", caller="c",
                                             persona="anna", started_at=started)
            await store.add_turn(call_id, role="caller", text="hello", started_at=started)
            ids.append(call_id)
        report = await purge(store, calls_log, policy, now=NOW)
        assert (report.recordings, report.transcripts, report.turns) == (1, 1, 1)
        assert await store.turns(ids[0]) == [] and len(await store.turns(ids[1])) == 1
        assert await store.get_call(ids[0]) is not None  # the call itself is kept
    assert not old_wav.exists() and not old_text.exists()
    assert new_wav.exists() and other.exists()


def test_purge_command_prints_what_it_deleted(tmp_path: Path) -> None:
    env = {**os.environ, "SECRETARY_CALLS_LOG_DIR": str(tmp_path),
           "SECRETARY_DATABASE": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "SECRETARY_PRIVACY__RECORDINGS_DAYS": "1"}
    touch(tmp_path / "call_9_input.wav", timedelta(days=3650))  # dated by the real clock
    done = subprocess.run([sys.executable, "-m", "secretary", "purge"], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["recordings"] == 1
