"""Keeping call data only as long as the settings say (privacy.recordings_days,
privacy.transcripts_days): recordings and transcript files in calls_log older than that are
deleted, and so are the stored turns of calls that old. The phone process runs `purge`
every privacy.purge_interval_s; `secretary purge` runs it once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from brain.store import Store
from secretary.settings import PrivacySettings

log = logging.getLogger(__name__)

RECORDING_PATTERNS = ("call_*_input.wav", "call_*_output.wav")
TRANSCRIPT_PATTERNS = ("call_*_transcript.txt",)


@dataclass(frozen=True)
class PurgeReport:
    recordings: int = 0  # files deleted
    transcripts: int = 0  # files deleted
    turns: int = 0  # database rows deleted


async def purge(store: Store, calls_log_dir: Path, policy: PrivacySettings,
                now: datetime | None = None) -> PurgeReport:
    """Delete what has outlived the policy, once."""
    now = now or datetime.now(UTC)
    recordings = transcripts = turns = 0
    if policy.recordings_days is not None:
        cutoff = now - timedelta(days=policy.recordings_days)
        recordings = await asyncio.to_thread(_delete_older, calls_log_dir,
                                             RECORDING_PATTERNS, cutoff)
    if policy.transcripts_days is not None:
        cutoff = now - timedelta(days=policy.transcripts_days)
        transcripts = await asyncio.to_thread(_delete_older, calls_log_dir,
                                              TRANSCRIPT_PATTERNS, cutoff)
        turns = await store.forget_turns_before(cutoff)
    report = PurgeReport(recordings, transcripts, turns)
    if recordings or transcripts or turns:
        log.info("retention: deleted %d recordings, %d transcript files, %d turns",
                 recordings, transcripts, turns)
    return report


async def keep_purging(store: Store, calls_log_dir: Path, policy: PrivacySettings) -> None:
    """`purge` every policy.purge_interval_s until cancelled; a failed pass is logged and
    tried again next time (a full disk or a locked DB must not stop the phones)."""
    while True:
        try:
            await purge(store, calls_log_dir, policy)
        except (OSError, RuntimeError) as exc:
            log.error("retention pass failed: %s", exc)
        await asyncio.sleep(policy.purge_interval_s)


def _delete_older(folder: Path, patterns: tuple[str, ...], cutoff: datetime) -> int:
    """Delete files matching `patterns` directly in `folder` last written before `cutoff`
    (the file's own time: echo-mode calls have no database row)."""
    if not folder.is_dir():
        return 0
    limit = cutoff.timestamp()
    deleted = 0
    for pattern in patterns:
        for path in folder.glob(pattern):
            try:
                if path.is_file() and not path.is_symlink() and path.stat().st_mtime < limit:
                    path.unlink()
                    deleted += 1
            except FileNotFoundError:
                continue  # deleted meanwhile
    return deleted
