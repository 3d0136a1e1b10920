"""The call's transcript file is written line by line, readable at every moment."""

from __future__ import annotations

from pathlib import Path

from ari_app.call_log import TranscriptLog


def test_each_line_is_on_disk_as_soon_as_it_is_written(tmp_path: Path) -> None:
    log = TranscriptLog(tmp_path / "call_20261125_120000_000001")
    assert log.path.name == "call_20261125_120000_000001_transcript.txt"
    log.write("Anna", "Hello, how can I help?")
    # another process (or a post-crash reader) sees it before close
    assert "] Anna: Hello, how can I help?" in log.path.read_text()
    log.write("Caller", "Where are you?")
    log.write("Anna", "We're at 12 Baker Street.", note="interrupted; heard: We're at")
    lines = log.path.read_text().splitlines()
    assert len(lines) == 3
    assert lines[1].endswith("Caller: Where are you?")
    assert lines[2].endswith("[interrupted; heard: We're at]")
    log.close()
    log.write("Anna", "after close is ignored")
    assert len(log.path.read_text().splitlines()) == 3
