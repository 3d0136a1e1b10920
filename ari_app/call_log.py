"""`calls_log/call_<ts>_transcript.txt`: who said what, line by line, as the call goes.

Each line is flushed and fsynced when written, so a crash loses nothing already said;
it sits beside the call's `_input.wav` / `_output.wav` (same prefix).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class TranscriptLog:
    def __init__(self, prefix: Path, redact: Callable[[str], str] | None = None) -> None:
        """redact: applied to each line's text (privacy.mask_numbers), as the DB does."""
        self.path = prefix.with_name(prefix.name + "_transcript.txt")
        self.redact = redact
        self._started = time.monotonic()
        self._file = self.path.open("a", encoding="utf-8")
        self._failed = False

    def write(self, speaker: str, text: str, note: str = "") -> None:
        if self._failed or self._file.closed:
            return
        if self.redact is not None:
            text = self.redact(text)
        elapsed = time.monotonic() - self._started
        minutes, seconds = divmod(elapsed, 60)
        line = f"[{int(minutes):02d}:{seconds:04.1f}] {speaker}: {text}"
        if note:
            line += f"  [{note}]"
        try:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError:
            self._failed = True  # disk full: the call goes on; the DB still has the turns
            log.exception("transcript %s failed", self.path)

    def close(self) -> None:
        self._file.close()
