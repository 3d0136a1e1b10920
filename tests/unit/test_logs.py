"""Log set-up from settings: JSON lines that parse, and a log file that rotates by size."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretary.logs import configure_logging
from secretary.settings import Settings


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_level_logger_message_and_extras(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    log_file = tmp_path / "logs" / "secretary.log"
    configure_logging(Settings(log_format="json", log_file=log_file, log_level="info"))
    logging.getLogger("ari_app.test").warning("call %s ended", "c1", extra={"call_id": 7})
    logging.getLogger("ari_app.test").debug("not at INFO")
    printed = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    written = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert printed == written and len(written) == 1
    record = written[0]
    assert (record["level"], record["logger"], record["message"], record["call_id"]) == (
        "WARNING", "ari_app.test", "call c1 ended", 7)
    assert "time" in record


def test_log_file_rotates_and_keeps_the_configured_backups(tmp_path: Path) -> None:
    log_file = tmp_path / "secretary.log"
    configure_logging(Settings(log_file=log_file, log_max_bytes=2000, log_backups=2))
    for i in range(200):
        logging.getLogger("t").info("line %d %s", i, "x" * 40)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["secretary.log", "secretary.log.1", "secretary.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    last = json.loads(log_file.read_text().splitlines()[-1])
    assert last["message"].startswith("line 199")
