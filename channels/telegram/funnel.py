"""The sales funnel's content and rules, free of Telegram: the segmentation quiz, the
requirements interview that ends in a Markdown document and a lead status, and the FAQ.

The words live in a data file (`funnel.yaml` next to this module, or the one
`telegram.funnel_file` names), one section per language, validated here by
`FunnelContent.load`. The rules are language-neutral: the quiz carries its running score
in the buttons' callback data, so it needs no server state and survives a restart
mid-quiz; the interview keeps its answers in the dispatcher's FSM storage (see handlers).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_FUNNEL_FILE = Path(__file__).with_name("funnel.yaml")
FALLBACK_LANGUAGE = "en"

Segment = Literal["diy", "basic", "custom"]
LeadStatus = Literal["qualified", "unqualified", "needs_analysis"]
Reason = Literal["low_budget", "no_budget", "clear", "scope"]
RequirementKey = Literal["project", "channels", "volume", "budget", "deadline"]
REQUIREMENT_KEYS: tuple[RequirementKey, ...] = (
    "project", "channels", "volume", "budget", "deadline")


class FunnelFileError(ValueError):
    """A funnel file that cannot be used; the message names the file and the problem."""


# ---- the content, as the data file has it ------------------------------------------------

class _Strict(BaseModel):
    # A misspelt key in the file is an error, not a silently missing text.
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuizOption(_Strict):
    label: str = Field(min_length=1, max_length=64)
    points: int = Field(ge=0, le=99)


class QuizQuestion(_Strict):
    text: str = Field(min_length=1)
    options: tuple[QuizOption, ...] = Field(min_length=2, max_length=8)


class Requirement(_Strict):
    key: RequirementKey
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)


class FaqEntry(_Strict):
    question: str = Field(min_length=1, max_length=64)  # a button label
    answer: str = Field(min_length=1)


class FaqSection(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,20}$")  # goes into callback data
    title: str = Field(min_length=1, max_length=64)
    entries: tuple[FaqEntry, ...] = Field(min_length=1, max_length=30)


class UiTexts(_Strict):
    no_funnel: str
    faq_prompt: str
    back: str
    requirements_intro: str
    question: str  # {number}, {total}, {text}
    subscribed: str
    unsubscribed: str
    stopped: str
    document_title: str
    document_segment: str
    document_status: str
    document_caption: str  # {status}
    document_filename: str = "requirements.md"

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        # A typo like {totl} would otherwise fail in the middle of a user's quiz.
        _check_format("question", self.question, number=1, total=1, text="")
        _check_format("document_caption", self.document_caption, status="")
        return self


class Language(_Strict):
    """Everything the funnel says in one language."""

    quiz: tuple[QuizQuestion, ...] = Field(min_length=1, max_length=20)
    segments: dict[Segment, str]
    requirements: tuple[Requirement, ...]
    faq: tuple[FaqSection, ...] = Field(min_length=1)
    statuses: dict[LeadStatus, str]
    reasons: dict[Reason, str]
    ui: UiTexts

    @model_validator(mode="after")
    def _complete(self) -> Self:
        for name, mapping, keys in (("segments", self.segments, get_args(Segment)),
                                    ("statuses", self.statuses, get_args(LeadStatus)),
                                    ("reasons", self.reasons, get_args(Reason))):
            missing = [k for k in keys if k not in mapping]
            if missing:
                raise ValueError(f"{name} lacks {', '.join(missing)}")
        keys = tuple(r.key for r in self.requirements)
        if keys != REQUIREMENT_KEYS:
            raise ValueError(f"requirements must have the keys {', '.join(REQUIREMENT_KEYS)}"
                             f" in that order, not {', '.join(keys) or 'none'}")
        sections = [s.key for s in self.faq]
        if len(set(sections)) != len(sections):
            raise ValueError(f"faq section keys repeat: {', '.join(sections)}")
        _check_format("reasons.low_budget", self.reasons["low_budget"], min_budget=0)
        return self

    @property
    def points(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(o.points for o in q.options) for q in self.quiz)

    def faq_section(self, key: str) -> FaqSection | None:
        return next((s for s in self.faq if s.key == key), None)

    def question_text(self, index: int) -> str:
        return self.ui.question.format(number=index + 1, total=len(self.quiz),
                                       text=self.quiz[index].text)


class Thresholds(_Strict):
    """The highest total score of each segment; above `basic` is custom."""

    diy: int = Field(ge=0)
    basic: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.diy >= self.basic:
            raise ValueError(f"diy ({self.diy}) must be below basic ({self.basic})")
        return self


class FunnelContent(_Strict):
    thresholds: Thresholds
    languages: dict[str, Language]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if FALLBACK_LANGUAGE not in self.languages:
            raise ValueError(f"languages must include {FALLBACK_LANGUAGE!r} (the fallback)")
        # The running score travels in the buttons, so it must mean the same in every
        # language (a user may switch language mid-quiz).
        reference = self.languages[FALLBACK_LANGUAGE].points
        for code, language in self.languages.items():
            if language.points != reference:
                raise ValueError(f"the quiz of {code!r} differs from {FALLBACK_LANGUAGE!r} "
                                 "in its questions or points; scoring must be the same")
        return self

    @classmethod
    def load(cls, path: Path | None = None) -> FunnelContent:
        """The content of `path` (None: the shipped file); FunnelFileError when it is
        unreadable or invalid."""
        path = path or DEFAULT_FUNNEL_FILE
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise FunnelFileError(f"funnel file {path}: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'top level'}: {e['msg']}"
                for e in exc.errors())
            raise FunnelFileError(f"funnel file {path}: {problems}") from exc

    @property
    def quiz_length(self) -> int:
        return len(self.languages[FALLBACK_LANGUAGE].quiz)

    @property
    def max_score(self) -> int:
        return sum(max(p) for p in self.languages[FALLBACK_LANGUAGE].points)

    def language(self, code: str | None) -> Language:
        """The texts for a Telegram `language_code` ("ru", "ru-RU", "en-GB"...), by its
        primary subtag; the fallback language when the file lacks it."""
        primary = (code or "").split("-")[0].lower()
        return self.languages.get(primary) or self.languages[FALLBACK_LANGUAGE]

    def segment(self, score: int) -> Segment:
        """diy / basic / custom from the total score."""
        if score <= self.thresholds.diy:
            return "diy"
        if score <= self.thresholds.basic:
            return "basic"
        return "custom"

    def parse_quiz_callback(self, data: str) -> tuple[int, int] | None:
        """(answered question, score so far), or None for data that is not a sane step."""
        match = re.fullmatch(r"quiz:(\d{1,2}):(\d{1,3})", data)
        if match is None:
            return None
        question, score = int(match.group(1)), int(match.group(2))
        if question >= self.quiz_length or score > self.max_score:
            return None
        return question, score


def _check_format(name: str, template: str, **values: object) -> None:
    try:
        template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join(f"{{{k}}}" for k in values)
        raise ValueError(f"{name}: bad placeholder {exc} (allowed: {allowed})") from None


def quiz_callback(question: int, score: int) -> str:
    """Callback data of an answer to question `question` bringing the total to `score`."""
    return f"quiz:{question}:{score}"


# ---- the requirements interview ----------------------------------------------------------

MIN_BUDGET = 500  # below this nobody can be served: unqualified
QUALIFIED_BUDGET = 2000  # at or above, with a clear volume and deadline: qualified
_AMOUNT = re.compile(r"(\d[\d\s.,]*)\s*(k|к|тыс)?", re.IGNORECASE)
_NO_DEADLINE = re.compile(r"\b(don'?t know|not sure|no idea|whenever|не знаю)\b", re.I)


def parse_amount(text: str) -> float | None:
    """The first number in `text` ("3000", "$3,000", "3k", "300 тыс"); None when none."""
    match = _AMOUNT.search(text)
    if match is None:
        return None
    digits = re.sub(r"[\s,]", "", match.group(1)).rstrip(".")
    try:
        value = float(digits)
    except ValueError:
        return None
    return value * 1000 if match.group(2) else value


def lead_status(answers: dict[str, str]) -> tuple[LeadStatus, Reason]:
    """(status, reason) by simple, explainable rules; the reason is a key of a
    language's `reasons`."""
    budget = parse_amount(answers.get("budget", ""))
    volume = parse_amount(answers.get("volume", ""))
    deadline = answers.get("deadline", "").strip()
    if budget is not None and budget < MIN_BUDGET:
        return "unqualified", "low_budget"
    if budget is None:
        return "needs_analysis", "no_budget"
    if budget >= QUALIFIED_BUDGET and volume is not None and deadline \
            and not _NO_DEADLINE.search(deadline):
        return "qualified", "clear"
    return "needs_analysis", "scope"


def requirements_document(answers: dict[str, str], segment: str | None,
                          language: Language) -> tuple[str, LeadStatus]:
    """The Markdown document of an interview in `language`, and its status."""
    status, reason = lead_status(answers)
    ui = language.ui
    lines = [f"# {ui.document_title}", ""]
    if segment:
        lines += [f"{ui.document_segment}: **{segment}**", ""]
    for requirement in language.requirements:
        lines += [f"## {requirement.title}", "",
                  _markdown_text(answers.get(requirement.key, "")) or "—", ""]
    why = language.reasons[reason].format(min_budget=MIN_BUDGET)
    lines += [f"## {ui.document_status}", "", f"**{language.statuses[status]}**: {why}.", ""]
    return "\n".join(lines), status


def _markdown_text(text: str) -> str:
    """A user's answer as a plain paragraph: no headings or HTML smuggled in."""
    return re.sub(r"^[#>\s]+", "", text.strip().replace("<", "&lt;"), flags=re.MULTILINE)
