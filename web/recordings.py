"""Finding a call's files in the calls_log folder, and serving nothing outside it.

Recordings are flat in that folder (`call_<ts>_input.wav`, `_output.wav`,
`_transcript.txt`), so a file is named by its bare name: one path component of known
characters, with a known ending. The name is resolved (symlinks included) and must still
lie directly in the folder; anything else does not exist as far as the web is concerned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"call_[A-Za-z0-9_-]{1,120}_(?:input|output)\.wav"
                  r"|call_[A-Za-z0-9_-]{1,120}_transcript\.txt")
KINDS = {"input": "_input.wav", "output": "_output.wav", "transcript": "_transcript.txt"}


def served_file(root: Path, name: str) -> Path | None:
    """The file `name` in `root`, when it may be served and exists; else None."""
    if not NAME.fullmatch(name):
        return None
    base = root.resolve()
    path = (base / name).resolve()
    if path.parent != base or not path.is_file():
        return None
    return path


@dataclass(frozen=True)
class CallFiles:
    """Names (under the recordings route) of the files one call left; None when absent."""

    input: str | None = None
    output: str | None = None
    transcript: str | None = None


def call_files(root: Path, recording_prefix: str | None) -> CallFiles:
    """What exists of a call's files, named relative to `root`. Blocking (stats files)."""
    if not recording_prefix:
        return CallFiles()
    prefix = Path(recording_prefix)
    base = root.resolve()
    if prefix.parent.resolve() != base:
        return CallFiles()  # recorded somewhere this console does not serve
    found = {}
    for kind, ending in KINDS.items():
        name = prefix.name + ending
        found[kind] = name if served_file(base, name) is not None else None
    return CallFiles(**found)
