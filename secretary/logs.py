"""Where the process's log goes and in what shape, from the settings (read once, at start):
plain text or one JSON object per line (python-json-logger) on stderr, and optionally a
size-rotated file, always JSON, for a log shipper."""

from __future__ import annotations

import logging
import logging.handlers
from typing import TYPE_CHECKING

from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from secretary.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = ["asctime", "levelname", "name", "message", "process", "threadName"]


def json_formatter() -> logging.Formatter:
    """Each record as one JSON line; `extra={...}` fields come along as keys."""
    return JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level",
                                                     "name": "logger"})


def configure_logging(settings: Settings) -> None:
    """Replace the root logger's handlers with what the settings ask for."""
    console = logging.StreamHandler()
    console.setFormatter(json_formatter() if settings.log_format == "json"
                         else logging.Formatter(TEXT_FORMAT))
    handlers: list[logging.Handler] = [console]
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            settings.log_file, maxBytes=settings.log_max_bytes,
            backupCount=settings.log_backups, encoding="utf-8")
        rotating.setFormatter(json_formatter())
        handlers.append(rotating)
    logging.basicConfig(level=settings.log_level.upper(), handlers=handlers, force=True)
