"""Taking a message: name, callback number, reason; read back; confirm; save.

Deterministic, so it works with any LLM or none. Each caller utterance advances one
step; what the caller already said (a name in "This is John, can you take a
message?", the caller ID, a contact's name) fills steps in advance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from brain.nlu.extract import extract_person_name, extract_phone_number, speak_digits
from brain.nlu.intents import is_affirmative

MIN_CALLBACK_DIGITS = 5


class Step(StrEnum):
    NAME = "name"
    NUMBER = "number"
    CONFIRM_CALLER_NUMBER = "confirm_caller_number"
    REASON = "reason"
    CONFIRM = "confirm"
    DONE = "done"


@dataclass
class MessageDraft:
    name: str | None = None
    number: str | None = None
    reason: str | None = None

    @property
    def worth_saving(self) -> bool:
        return bool(self.number or self.reason)


@dataclass
class Prompt:
    """The phrase to say next (a key into the persona's phrases) and its context."""

    key: str
    context: dict[str, str] = field(default_factory=dict)


@dataclass
class MessageFlow:
    caller_number: str | None  # the caller ID, when it looks like a phone number
    draft: MessageDraft = field(default_factory=MessageDraft)
    step: Step = Step.NAME
    retries: int = 0
    pending_digits: str = ""  # the start of a number whose end is still to come

    def start(self, utterance: str, language: str) -> Prompt:
        """The caller asked to leave a message, maybe saying part of it already."""
        self.draft.name = self.draft.name or extract_person_name(utterance, language)
        self.draft.number = self.draft.number or extract_phone_number(utterance, language)
        return self._next(language)

    def handle(self, utterance: str, language: str) -> Prompt:
        """The caller's answer to the last prompt; returns what to say next."""
        if self.step is Step.NAME:
            name = extract_person_name(utterance, language)
            if name is None and self.retries == 0:
                return self._retry("ask_name_again", language)
            # Second miss: keep their words rather than lose the message.
            self.draft.name = name or utterance.strip(" .,!?")[:60] or "unknown"
        elif self.step is Step.CONFIRM_CALLER_NUMBER:
            answer = is_affirmative(utterance)
            spoken_number = extract_phone_number(utterance, language)
            if spoken_number:
                self.draft.number = spoken_number
            elif answer is True:
                self.draft.number = self.caller_number
            elif answer is False:
                self.caller_number = None  # ask for another number
            elif self.retries == 0:
                return self._retry("confirm_again", language)
            else:
                self.draft.number = self.caller_number
        elif self.step is Step.NUMBER:
            # A pause inside a number ("555 ... 1234") splits it over two turns: the digits
            # of a turn too short to be a number are kept and read with the next one.
            heard = f"{self.pending_digits} {utterance}" if self.pending_digits else utterance
            number = extract_phone_number(heard, language)
            self.pending_digits = heard.strip(" .,!?")[-80:] if (
                number is None and any(ch.isdigit() for ch in heard)) else ""
            if number is None and self.retries == 0:
                return self._retry("ask_number_again", language)
            self.draft.number = number or heard.strip()[:40]
        elif self.step is Step.REASON:
            self.draft.reason = utterance.strip(" .") or "-"
        elif self.step is Step.CONFIRM:
            answer = is_affirmative(utterance)
            if answer is None and self.retries == 0:
                return self._retry("confirm_again", language)
            if answer is False:
                self.draft = MessageDraft()
                self.caller_number = None
                self.step = Step.NAME
                self.retries = 0
                return Prompt("fix_message")
            self.step = Step.DONE
            return Prompt("message_saved")
        return self._next(language)

    @property
    def done(self) -> bool:
        return self.step is Step.DONE

    def _retry(self, key: str, language: str) -> Prompt:
        self.retries += 1
        return Prompt(key, self._context(language))

    def _next(self, language: str) -> Prompt:
        self.retries = 0
        draft = self.draft
        context = self._context(language)
        if draft.name is None:
            self.step = Step.NAME
            return Prompt("ask_name", context)
        if draft.number is None:
            if self.caller_number and len(self.caller_number.lstrip("+")) >= MIN_CALLBACK_DIGITS:
                self.step = Step.CONFIRM_CALLER_NUMBER
                return Prompt("confirm_caller_number",
                              {**context, "number_spoken": speak_digits(self.caller_number,
                                                                         language)})
            self.step = Step.NUMBER
            return Prompt("ask_number", context)
        if draft.reason is None:
            self.step = Step.REASON
            return Prompt("ask_reason", context)
        self.step = Step.CONFIRM
        return Prompt("read_back", context)

    def _context(self, language: str) -> dict[str, str]:
        draft = self.draft
        return {
            "caller_name": draft.name or "",
            "number_spoken": speak_digits(draft.number, language) if draft.number else "",
            "reason": draft.reason or "",
        }
