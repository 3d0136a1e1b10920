"""The sales funnel's content and rules, free of Telegram: the segmentation quiz, the
requirements interview that ends in a Markdown document and a lead status, and the FAQ.

The quiz carries its running score in the buttons' callback data, so it needs no server
state and survives a restart mid-quiz; the interview keeps its answers in the
dispatcher's FSM storage (see handlers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---- the quiz ------------------------------------------------------------------------


@dataclass(frozen=True)
class QuizQuestion:
    text: str
    options: tuple[tuple[str, int], ...]  # (label, points)


QUIZ: tuple[QuizQuestion, ...] = (
    QuizQuestion("Who will set the secretary up?", (
        ("I will, myself", 0), ("My IT person", 1), ("I'd like you to do it", 2))),
    QuizQuestion("How many calls and chats a day?", (
        ("Under 20", 0), ("20 to 200", 1), ("More than 200", 2))),
    QuizQuestion("Which channels do you need?", (
        ("Just the phone", 0), ("Phone and Telegram", 1), ("Phone, Telegram, website, CRM", 2))),
    QuizQuestion("Do you need your own voice or integrations?", (
        ("No, defaults are fine", 0), ("A cloned voice", 1), ("Voice and custom integrations", 2))),
)
MAX_SCORE = sum(max(points for _, points in q.options) for q in QUIZ)

SEGMENT_TEXT = {
    "diy": "You're a do-it-yourself fit: the open-source secretary with its defaults will do. "
           "The docs walk you through the install.",
    "basic": "The Basic plan suits you: we install and tune the secretary for you.",
    "custom": "You need a custom build: voice cloning, integrations and more channels. "
              "Let's write down your requirements (📋 Requests).",
}


def quiz_segment(score: int) -> str:
    """diy / basic / custom from the total score."""
    if score <= 2:
        return "diy"
    if score <= 5:
        return "basic"
    return "custom"


def quiz_callback(question: int, score: int) -> str:
    """Callback data of an answer to question `question` bringing the total to `score`."""
    return f"quiz:{question}:{score}"


def parse_quiz_callback(data: str) -> tuple[int, int] | None:
    """(answered question, score so far), or None for data that is not a sane quiz step."""
    match = re.fullmatch(r"quiz:(\d{1,2}):(\d{1,3})", data)
    if match is None:
        return None
    question, score = int(match.group(1)), int(match.group(2))
    if question >= len(QUIZ) or score > MAX_SCORE:
        return None
    return question, score


# ---- the requirements interview ------------------------------------------------------

REQUIREMENTS: tuple[tuple[str, str], ...] = (
    ("project", "What is your business, and what should the secretary do for it?"),
    ("channels", "Which channels do you need (phone, Telegram, website chat)?"),
    ("volume", "About how many calls or chats a day?"),
    ("budget", "What budget do you have in mind (a number, e.g. 3000 USD)?"),
    ("deadline", "By when do you need it running?"),
)
MIN_BUDGET = 500  # below this nobody can be served: unqualified
QUALIFIED_BUDGET = 2000  # at or above, with a clear volume and deadline: qualified
_AMOUNT = re.compile(r"(\d[\d\s.,]*)\s*(k|к|тыс)?", re.IGNORECASE)
_NO_DEADLINE = re.compile(r"\b(don'?t know|not sure|no idea|whenever|не знаю)\b", re.I)


def parse_amount(text: str) -> float | None:
    """The first number in `text` ("3000", "$3,000", "3k"); None when there is none."""
    match = _AMOUNT.search(text)
    if match is None:
        return None
    digits = re.sub(r"[\s,]", "", match.group(1)).rstrip(".")
    try:
        value = float(digits)
    except ValueError:
        return None
    return value * 1000 if match.group(2) else value


def lead_status(answers: dict[str, str]) -> tuple[str, str]:
    """(qualified | unqualified | needs_analysis, why) by simple, explainable rules."""
    budget = parse_amount(answers.get("budget", ""))
    volume = parse_amount(answers.get("volume", ""))
    deadline = answers.get("deadline", "").strip()
    if budget is not None and budget < MIN_BUDGET:
        return "unqualified", f"the budget is under {MIN_BUDGET}"
    if budget is None:
        return "needs_analysis", "no budget figure was given"
    if budget >= QUALIFIED_BUDGET and volume is not None and deadline \
            and not _NO_DEADLINE.search(deadline):
        return "qualified", "budget, volume and deadline are clear"
    return "needs_analysis", "the scope needs a conversation before a quote"


def requirements_document(answers: dict[str, str], segment: str | None) -> tuple[str, str]:
    """The Markdown document of an interview, and its status."""
    status, why = lead_status(answers)
    titles = {"project": "Project", "channels": "Channels", "volume": "Volume",
              "budget": "Budget", "deadline": "Deadline"}
    lines = ["# Requirements", ""]
    if segment:
        lines += [f"Segment: **{segment}**", ""]
    for key, _ in REQUIREMENTS:
        lines += [f"## {titles[key]}", "", _markdown_text(answers.get(key, "")) or "—", ""]
    lines += ["## Status", "", f"**{status}**: {why}.", ""]
    return "\n".join(lines), status


def _markdown_text(text: str) -> str:
    """A user's answer as a plain paragraph: no headings or HTML smuggled in."""
    return re.sub(r"^[#>\s]+", "", text.strip().replace("<", "&lt;"), flags=re.MULTILINE)


# ---- the FAQ -------------------------------------------------------------------------

@dataclass(frozen=True)
class FaqSection:
    key: str
    title: str
    entries: tuple[tuple[str, str], ...]  # (question, answer)


FAQ: tuple[FaqSection, ...] = (
    FaqSection("product", "Product", (
        ("What does the secretary do?",
         "It answers your phone, Telegram and website chat, answers questions from your FAQ, "
         "takes messages and transfers callers to a human."),
        ("Which languages does it speak?",
         "Russian and English, with a cloned voice of your choice."),
    )),
    FaqSection("install", "Installation", (
        ("What do I need to run it?",
         "A Linux server with Asterisk; a GPU is optional for the best voices and LLMs."),
        ("How long does setup take?",
         "A DIY install takes an afternoon; with our Basic plan we do it in two days."),
    )),
    FaqSection("pricing", "Pricing and support", (
        ("How much does it cost?",
         "The software is free and open source; installation and support are paid plans."),
        ("How do I get support?",
         "Press 🛠️ Support and leave a message: we call back within a working day."),
    )),
)


def faq_section(key: str) -> FaqSection | None:
    return next((s for s in FAQ if s.key == key), None)
