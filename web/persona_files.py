"""The persona YAML files the console edits: finding them by a safe key, reading them,
checking a new version with brain.persona's own loader before anything is written, and
writing it atomically. Blocking file work; the pages run it in a thread.

Only `persona.yaml` is ever written. A key is one path component of known characters, and
the file must resolve to `<personas_dir>/<key>/persona.yaml` (no symlink out), so a key
from a URL can never reach another file. The `_common` folder is not a persona.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from brain.persona import COMMON_DIR, Persona, PersonaError, load_persona

KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
FILE_NAME = "persona.yaml"


@dataclass(frozen=True)
class PersonaSummary:
    key: str
    name: str
    company: str
    languages: tuple[str, ...]
    voice: str
    faq_count: int
    problem: str  # why it does not load; "" when it does


@dataclass(frozen=True)
class PersonaDocument:
    """One persona.yaml as read: its data, its leading comment and a digest of its bytes
    (so a save can tell the file changed since the form was opened)."""

    key: str
    data: dict[str, Any]
    header: str
    digest: str


def persona_file(personas_dir: Path, key: str) -> Path | None:
    """`<personas_dir>/<key>/persona.yaml` when `key` is a safe persona key and that file
    exists inside the folder; else None."""
    if not KEY.fullmatch(key):
        return None
    base = personas_dir.resolve()
    path = (base / key / FILE_NAME).resolve()
    if path.parent.parent != base or path.parent.name != key or not path.is_file():
        return None
    return path


def persona_keys(personas_dir: Path) -> list[str]:
    if not personas_dir.is_dir():
        return []
    return sorted(p.name for p in personas_dir.iterdir()
                  if p.name != COMMON_DIR and persona_file(personas_dir, p.name))


def summaries(personas_dir: Path) -> list[PersonaSummary]:
    found = []
    for key in persona_keys(personas_dir):
        try:
            persona = load_persona(personas_dir, key)
        except PersonaError as exc:
            found.append(PersonaSummary(key=key, name=key, company="", languages=(),
                                        voice="", faq_count=0, problem=str(exc)))
            continue
        found.append(PersonaSummary(
            key=key, name=persona.name, company=persona.company, languages=persona.languages,
            voice=persona.voice, faq_count=len(persona.faq), problem=""))
    return found


def read_document(path: Path, key: str) -> PersonaDocument:
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise PersonaError(f"{path}: not a mapping of settings")
    return PersonaDocument(key=key, data=data, header=_leading_comment(text),
                           digest=hashlib.sha256(raw).hexdigest())


def dump(data: dict[str, Any], header: str = "") -> str:
    """YAML for `data` in its own key order, with the file's leading comment kept (the
    comments further in are lost: PyYAML does not read them)."""
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=False)
    return header + body


def check(personas_dir: Path, key: str, text: str) -> Persona:
    """Load `text` as persona `key` with brain.persona's loader in a scratch copy of the
    personas folder, and render every greeting and the system prompt once (a template
    error would otherwise show only on a call). Raises PersonaError."""
    with tempfile.TemporaryDirectory(prefix="persona-check-") as scratch:
        root = Path(scratch)
        folder = root / key
        try:
            shutil.copytree(personas_dir / COMMON_DIR, root / COMMON_DIR)
            folder.mkdir()
            for template in (personas_dir / key).glob("*.j2"):  # the persona's own prompt
                shutil.copy2(template, folder / template.name)
        except OSError as exc:
            raise PersonaError(f"the personas folder is incomplete: {exc}") from exc
        (folder / FILE_NAME).write_text(text, encoding="utf-8")
        try:
            persona = load_persona(root, key)
        except PersonaError as exc:  # name the real folder, not the scratch copy
            raise PersonaError(str(exc).replace(str(root), str(personas_dir))) from exc
        try:
            for language in persona.languages:
                persona.greeting(language)
                persona.greeting(language, contact="Alex")
                hours = persona.hours.describe(language) if persona.hours else ""
                persona.system_prompt(language, facts=[], tools=False, hours=hours,
                                      status="", caller_name="")
        except jinja2.TemplateError as exc:
            raise PersonaError(f"a template does not render: {exc}") from exc
        except (KeyError, ValueError) as exc:
            raise PersonaError(f"a greeting does not render: {exc}") from exc
        return persona


class StaleDocument(Exception):
    """The file changed since the form was opened."""


def replace(path: Path, text: str, expected_digest: str) -> None:
    """Write `text` over `path` atomically (a temporary file beside it, then os.replace),
    keeping its mode; refuses when the file is no longer the one the form was made from."""
    if hashlib.sha256(path.read_bytes()).hexdigest() != expected_digest:
        raise StaleDocument(str(path))
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _leading_comment(text: str) -> str:
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)
