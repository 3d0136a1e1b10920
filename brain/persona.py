"""Personas: who the secretary is (name, company, languages, voice, hours, transfer
targets, FAQ) and everything it says outside the LLM, as Jinja templates.

A persona lives in `brain/personas/<key>/persona.yaml`; phrases it does not override
come from `brain/personas/_common/phrases.yaml`, and the LLM's instructions from
`system_prompt.j2` (the persona's own, else the common one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, Field, ValidationError

from brain.hours import BusinessHours
from brain.knowledge.faq import FaqEntry

COMMON_DIR = "_common"
LANGUAGE_NAMES = {"en": "English", "ru": "Russian"}


class PersonaError(ValueError):
    """A persona folder is missing or its persona.yaml is invalid."""


class _Hours(BaseModel):
    timezone: str
    schedule: dict[str, str]
    closed_dates: list[str] = Field(default_factory=list)


class _Transfer(BaseModel):
    name: str
    endpoint: str  # an Asterisk dial string, e.g. PJSIP/operator or PJSIP/200@trunk
    ring_timeout_s: float = 20.0
    description: str = ""


class _Faq(BaseModel):
    question: str
    answer: str
    alternatives: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    language: str = "en"


class _PersonaFile(BaseModel):
    name: str
    company: str
    language: str = "en"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    voice: str | None = None
    style: str = "polite and brief"
    greeting: dict[str, str]
    greeting_known: dict[str, str] = Field(default_factory=dict)
    hours: _Hours | None = None
    transfer: list[_Transfer] = Field(default_factory=list)
    faq: list[_Faq] = Field(default_factory=list)
    phrases: dict[str, dict[str, str]] = Field(default_factory=dict)


@dataclass(frozen=True)
class TransferTarget:
    name: str
    endpoint: str
    ring_timeout_s: float
    description: str

    def spoken(self) -> str:
        return self.description or self.name


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    company: str
    language: str
    languages: tuple[str, ...]
    voice: str
    style: str
    hours: BusinessHours | None
    transfer_targets: tuple[TransferTarget, ...]
    faq: tuple[FaqEntry, ...]
    _greetings: Mapping[str, str] = field(repr=False)
    _greetings_known: Mapping[str, str] = field(repr=False)
    _phrases: Mapping[str, Mapping[str, str]] = field(repr=False)
    _templates: jinja2.Environment = field(repr=False, compare=False)

    def language_for(self, detected: str | None) -> str:
        """The caller's language when the persona speaks it, else the persona's own."""
        return detected if detected in self.languages else self.language

    def greeting(self, language: str, contact: str | None = None) -> str:
        known = self._greetings_known.get(language) if contact else None
        template = known or self._greetings.get(language) or self._greetings[self.language]
        return self._render(template, contact=contact)

    def phrase(self, key: str, language: str, **context: Any) -> str:
        """A stock phrase in `language` (falling back to the persona's language)."""
        table = self._phrases.get(language) or self._phrases[self.language]
        if key not in table:
            raise PersonaError(f"persona {self.key}: no phrase {key!r} for {language}")
        return self._render(table[key], **context)

    def system_prompt(self, language: str, **context: Any) -> str:
        template = self._templates.get_template("system_prompt.j2")
        text = template.render(
            name=self.name, company=self.company, style=self.style,
            language_name=LANGUAGE_NAMES.get(language, language),
            targets=self.transfer_targets, **context,
        )
        return "\n".join(line for line in text.splitlines() if line.strip())

    def _render(self, template: str, **context: Any) -> str:
        return self._templates.from_string(template).render(
            name=self.name, company=self.company, **context
        ).strip()


def load_persona(personas_dir: Path, key: str) -> Persona:
    folder = personas_dir / key
    path = folder / "persona.yaml"
    if not path.is_file():
        known = sorted(p.name for p in personas_dir.iterdir()
                       if (p / "persona.yaml").is_file()) if personas_dir.is_dir() else []
        raise PersonaError(f"no persona {key!r} in {personas_dir} (have: {', '.join(known)})")
    try:
        data = _PersonaFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        common = yaml.safe_load((personas_dir / COMMON_DIR / "phrases.yaml").read_text("utf-8"))
        hours = (BusinessHours.parse(data.hours.timezone, data.hours.schedule,
                                     data.hours.closed_dates) if data.hours else None)
    except (ValidationError, yaml.YAMLError, OSError, ValueError) as exc:
        raise PersonaError(f"{path}: {exc}") from exc
    phrases = {lang: {**common.get(lang, {}), **data.phrases.get(lang, {})}
               for lang in {*common, *data.phrases}}
    if data.language not in data.greeting or data.language not in phrases:
        raise PersonaError(f"{path}: no greeting or phrases in its own language {data.language}")
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder), str(personas_dir / COMMON_DIR)]),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False,
    )
    return Persona(
        key=key, name=data.name, company=data.company, language=data.language,
        languages=tuple(data.languages), voice=data.voice or key, style=data.style,
        hours=hours,
        transfer_targets=tuple(TransferTarget(t.name, t.endpoint, t.ring_timeout_s,
                                              t.description) for t in data.transfer),
        faq=tuple(FaqEntry(question=f.question, answer=" ".join(f.answer.split()),
                           alternatives=tuple(f.alternatives), keywords=tuple(f.keywords),
                           language=f.language) for f in data.faq),
        _greetings=data.greeting, _greetings_known=data.greeting_known,
        _phrases=phrases, _templates=templates,
    )
