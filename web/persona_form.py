"""The persona edit form: from a persona.yaml's data to form fields, from a posted form
back, and the new data (the edited keys changed, every other key kept as it was).

Lists (FAQ, transfer targets) are rows named `faq-<i>-<field>`; the page always shows one
empty row more (filling it adds one) and a "remove" box per row. No scripts: the console's
CSP allows none. The form checks only what it must to build the data; the persona loader
judges the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from brain.persona import LANGUAGE_NAMES

ROW_FIELD = re.compile(r"(faq|transfer)-(\d{1,3})-([a-z_]+)")
GREETING_FIELD = re.compile(r"greeting(?:_known)?\.([a-z]{2,8})")
MAX_FIELD = 8000


class FormError(ValueError):
    """The posted form cannot become persona data; the message says which field."""


@dataclass
class FaqRow:
    question: str = ""
    answer: str = ""
    alternatives: str = ""  # one per line
    keywords: str = ""  # comma separated
    language: str = "en"

    @property
    def empty(self) -> bool:
        return not (self.question or self.answer or self.alternatives or self.keywords)


@dataclass
class TransferRow:
    name: str = ""
    endpoint: str = ""
    ring_timeout_s: str = "20"
    description: str = ""

    @property
    def empty(self) -> bool:
        return not (self.name or self.endpoint or self.description)


@dataclass
class PersonaForm:
    name: str = ""
    company: str = ""
    language: str = "en"
    languages: str = "en"  # comma separated
    voice: str = ""
    style: str = ""
    greeting: dict[str, str] = field(default_factory=dict)
    greeting_known: dict[str, str] = field(default_factory=dict)
    hours_timezone: str = ""
    hours_schedule: str = ""  # "mon-fri: 09:00-18:00", one per line
    hours_closed: str = ""  # dates, comma separated
    transfer: list[TransferRow] = field(default_factory=list)
    faq: list[FaqRow] = field(default_factory=list)

    @property
    def greeting_languages(self) -> list[str]:
        """Every language a greeting may be written for: the persona's, those with a
        greeting already, and those the brain has names for."""
        return _unique([*_split(self.languages), *self.greeting, *self.greeting_known,
                        *LANGUAGE_NAMES])

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> PersonaForm:
        hours = data.get("hours") if isinstance(data.get("hours"), dict) else {}
        schedule = hours.get("schedule") if isinstance(hours.get("schedule"), dict) else {}
        return cls(
            name=_text(data.get("name")), company=_text(data.get("company")),
            language=_text(data.get("language", "en")),
            languages=", ".join(_texts(data.get("languages", ["en"]))),
            voice=_text(data.get("voice")), style=_text(data.get("style")),
            greeting=_text_map(data.get("greeting")),
            greeting_known=_text_map(data.get("greeting_known")),
            hours_timezone=_text(hours.get("timezone")),
            hours_schedule="\n".join(f"{day}: {_text(span)}" for day, span in schedule.items()),
            hours_closed=", ".join(_texts(hours.get("closed_dates", []))),
            transfer=[TransferRow(name=_text(t.get("name")), endpoint=_text(t.get("endpoint")),
                                  ring_timeout_s=_text(t.get("ring_timeout_s", 20)),
                                  description=_text(t.get("description")))
                      for t in _rows(data.get("transfer"))],
            faq=[FaqRow(question=_text(f.get("question")), answer=_text(f.get("answer")),
                        alternatives="\n".join(_texts(f.get("alternatives", []))),
                        keywords=", ".join(_texts(f.get("keywords", []))),
                        language=_text(f.get("language", "en")))
                 for f in _rows(data.get("faq"))],
        )

    @classmethod
    def from_post(cls, form: Mapping[str, Any]) -> PersonaForm:
        def get(name: str) -> str:
            value = form.get(name, "")
            if not isinstance(value, str):
                raise FormError(f"{name} must be text")
            if len(value) > MAX_FIELD or "\x00" in value:
                raise FormError(f"{name} is too long or has a NUL character")
            return value.replace("\r\n", "\n").strip()

        rows: dict[tuple[str, int], dict[str, str]] = {}
        for name in form:
            found = ROW_FIELD.fullmatch(name)
            if found:
                kind, index, part = found.group(1), int(found.group(2)), found.group(3)
                rows.setdefault((kind, index), {})[part] = get(name)
        known = _unique([*_split(get("languages")), *LANGUAGE_NAMES])
        greeting_langs = _unique([*known, *(found.group(1) for found in map(
            GREETING_FIELD.fullmatch, form) if found)])
        return cls(
            name=get("name"), company=get("company"), language=get("language"),
            languages=get("languages"), voice=get("voice"), style=get("style"),
            greeting={lang: get(f"greeting.{lang}") for lang in greeting_langs},
            greeting_known={lang: get(f"greeting_known.{lang}") for lang in greeting_langs},
            hours_timezone=get("hours_timezone"), hours_schedule=get("hours_schedule"),
            hours_closed=get("hours_closed"),
            transfer=[TransferRow(**_pick(parts, TransferRow))
                      for (kind, _), parts in sorted(rows.items()) if kind == "transfer"
                      and not parts.get("remove")],
            faq=[FaqRow(**_pick(parts, FaqRow))
                 for (kind, _), parts in sorted(rows.items()) if kind == "faq"
                 and not parts.get("remove")],
        )

    def apply(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """`data` with the form's keys replaced; keys the form does not know are kept, in
        their order, and so are unknown keys inside FAQ rows and transfer targets."""
        if not self.name or not self.company or not self.language:
            raise FormError("a persona needs a name, a company and its own language")
        new = dict(data)
        new.update(name=self.name, company=self.company, language=self.language,
                   languages=_split(self.languages), style=self.style)
        _set_or_drop(new, "voice", self.voice)
        new["greeting"] = {k: v for k, v in self.greeting.items() if v}
        _set_or_drop(new, "greeting_known", {k: v for k, v in self.greeting_known.items() if v})
        _set_or_drop(new, "hours", self._hours(data.get("hours")))
        old_transfer, old_faq = _rows(data.get("transfer")), _rows(data.get("faq"))
        transfer = [self._transfer(row, old_transfer[i] if i < len(old_transfer) else {})
                    for i, row in enumerate(r for r in self.transfer if not r.empty)]
        faq = [self._faq(row, old_faq[i] if i < len(old_faq) else {})
               for i, row in enumerate(r for r in self.faq if not r.empty)]
        _set_or_drop(new, "transfer", transfer, keep_empty="transfer" in data)
        _set_or_drop(new, "faq", faq, keep_empty="faq" in data)
        return new

    def _hours(self, old: object) -> dict[str, Any] | None:
        if not self.hours_timezone and not self.hours_schedule:
            return None
        schedule: dict[str, str] = {}
        for line in self.hours_schedule.splitlines():
            if not line.strip():
                continue
            day, sep, span = line.partition(":")
            if not sep or not day.strip() or not span.strip():
                raise FormError(f"opening hours: write each line as 'mon-fri: 09:00-18:00', "
                                f"not {line.strip()!r}")
            schedule[day.strip()] = span.strip()
        hours = dict(old) if isinstance(old, dict) else {}
        hours.update(timezone=self.hours_timezone, schedule=schedule)
        _set_or_drop(hours, "closed_dates", _split(self.hours_closed),
                     keep_empty="closed_dates" in hours)
        return hours

    @staticmethod
    def _transfer(row: TransferRow, old: Mapping[str, Any]) -> dict[str, Any]:
        if not row.name or not row.endpoint:
            raise FormError("every transfer target needs a name and a dial string")
        try:
            timeout = float(row.ring_timeout_s or "20")
        except ValueError:
            raise FormError(f"ring timeout {row.ring_timeout_s!r} is not a number") from None
        if not 1 <= timeout <= 600:
            raise FormError("a ring timeout is from 1 to 600 seconds")
        new = {**old, "name": row.name, "endpoint": row.endpoint,
               "ring_timeout_s": int(timeout) if timeout.is_integer() else timeout}
        _set_or_drop(new, "description", row.description, keep_empty="description" in old)
        return new

    @staticmethod
    def _faq(row: FaqRow, old: Mapping[str, Any]) -> dict[str, Any]:
        if not row.question or not row.answer:
            raise FormError("every FAQ entry needs a question and an answer")
        new = {**old, "question": row.question}
        _set_or_drop(new, "alternatives", [a.strip() for a in row.alternatives.splitlines()
                                           if a.strip()], keep_empty="alternatives" in old)
        _set_or_drop(new, "keywords", _split(row.keywords), keep_empty="keywords" in old)
        new["answer"] = " ".join(row.answer.split())  # the loader joins lines the same way
        if row.language != "en" or "language" in old:
            new["language"] = row.language or "en"
        return new


def _set_or_drop(data: dict[str, Any], key: str, value: Any, *, keep_empty: bool = False
                 ) -> None:
    if value or keep_empty:
        data[key] = value
    else:
        data.pop(key, None)


def _pick(parts: Mapping[str, str], row: type[FaqRow] | type[TransferRow]) -> dict[str, str]:
    return {k: v for k, v in parts.items() if k in row.__dataclass_fields__}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _texts(value: object) -> list[str]:
    return [_text(v) for v in value] if isinstance(value, list) else []


def _text_map(value: object) -> dict[str, str]:
    return {str(k): _text(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _rows(value: object) -> list[dict[str, Any]]:
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []
