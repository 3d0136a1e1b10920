"""Rule-based intents and yes/no answers in English and Russian, on clean and Whisper-like
text: what the caller wants, negations, and which intent wins when several are present."""

from __future__ import annotations

import pytest

from brain.nlu import intents
from brain.nlu.intents import Intent, IntentMatch, detect_intent, is_affirmative

CASES = {
    Intent.LEAVE_MESSAGE: [
        "I'd like to leave a message", "can you take a message", "Tell him to call me back.",
        "could you have her call me back please", "передайте ему", "Хочу оставить сообщение",
        "пусть он мне перезвонит", "please pass on a message to the doctor",
        "I WANT TO LEAVE A VOICEMAIL", "можно оставить сообщение для Ивана",
    ],
    Intent.TRANSFER: [
        "can I speak to a human", "Can I speak to the manager?", "can i talk to someone",
        "connect me", "Operator!", "operator please", "соедините с менеджером",
        "позовите человека", "переключите", "переключите, пожалуйста, на оператора",
        "I need to talk to a real person", "put me through to the doctor",
        "можно поговорить с администратором", "could I talk to John please", "можно менеджера",
    ],
    Intent.HOURS: [
        "what are your opening hours", "Are you open on Saturday?", "когда вы работаете",
        "часы работы", "what time do you close today", "when do you open",
        "до скольки вы сегодня работаете", "Вы работаете в субботу?", "график работы какой",
        "are you guys open tomorrow", "ВЫ ОТКРЫТЫ СЕЙЧАС",
    ],
    Intent.GOODBYE: [
        "bye", "Goodbye!", "that's all, thanks", "до свидания", "всё, спасибо",
        "no thanks, bye", "okay bye bye", "Всего доброго!", "Пока!", "nothing else, thank you",
        "that's it", "have a nice day",
    ],
    Intent.REPEAT: [
        "sorry, what?", "can you repeat", "повторите", "Sorry?", "I didn't catch that",
        "what did you say", "что вы сказали", "а?", "не расслышал, ещё раз можно",
        "could you say that again", "Что-что?",
    ],
    Intent.GREETING: ["hello", "Hi there", "good morning", "Здравствуйте", "алло, добрый день"],
    Intent.THANKS: ["thank you", "Thanks a lot!", "спасибо большое", "благодарю"],
    Intent.AFFIRM: ["yes", "Yeah, that's right.", "да", "ага", "sure", "конечно", "верно"],
    Intent.DENY: ["no", "nope", "нет", "не совсем", "not really", "нет, неправильно"],
}


@pytest.mark.parametrize(("expected", "text"),
                         [(intent, text) for intent, texts in CASES.items() for text in texts])
def test_detects_intent(expected: Intent, text: str) -> None:
    match = detect_intent(text)
    assert match.intent == expected, match
    assert 0.5 <= match.confidence <= 1.0


@pytest.mark.parametrize("text", [
    "what's the weather like", "tell me a joke", "как дела", "my tooth hurts",
    "сколько стоит чистка зубов", "I'm calling about my invoice", "", "   ", "...",
    "вы работаете по ДМС", "пока не знаю",
])
def test_unknown(text: str) -> None:
    match = detect_intent(text)
    assert match == IntentMatch(Intent.UNKNOWN, 0.0, match.language)


@pytest.mark.parametrize(("text", "expected"), [
    # a negated request is no request: it answers "shall I take a message?" with a no
    ("I don't want to leave a message", Intent.DENY),
    ("I do not really want to leave a message, thanks", Intent.DENY),
    ("no need to transfer me", Intent.DENY),
    ("не надо соединять", Intent.DENY),
    ("не нужно ничего передавать", Intent.DENY),
    ("I don't need to speak to anyone", Intent.DENY),
    # the negation's reach ends at a word it cannot pass
    ("I don't know, can you take a message", Intent.LEAVE_MESSAGE),
    ("не могли бы вы соединить с менеджером", Intent.TRANSFER),
    ("не подскажете, когда вы работаете", Intent.HOURS),
    ("no, I'd like to leave a message", Intent.LEAVE_MESSAGE),
])
def test_negations(text: str, expected: Intent) -> None:
    assert detect_intent(text).intent == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("hello, I'd like to leave a message", Intent.LEAVE_MESSAGE),
    ("yes, please connect me", Intent.TRANSFER),
    ("thanks, bye", Intent.GOODBYE),
    ("okay, that's all", Intent.GOODBYE),
    ("sorry, can I speak to the manager", Intent.TRANSFER),
    ("sorry, what are your hours", Intent.HOURS),
    ("спасибо, можете повторить номер", Intent.REPEAT),
])
def test_request_wins_over_politeness(text: str, expected: Intent) -> None:
    assert detect_intent(text).intent == expected


@pytest.mark.parametrize("text", [
    "Hi, what is your address?", "Здравствуйте, сколько стоит чистка?",
    "thanks, and how much is a cleaning", "yes, where are you located", "no, it's 555 1234",
])
def test_politeness_around_a_question_is_not_the_intent(text: str) -> None:
    # the question goes on to the FAQ or the model; only a bare greeting/thanks/yes/no counts
    assert detect_intent(text).intent == Intent.UNKNOWN


def test_confidence_grows_with_the_share_explained() -> None:
    short = detect_intent("what are your hours")
    rambling = detect_intent("so I was driving past yesterday and wondered about your hours")
    assert short.intent == rambling.intent == Intent.HOURS
    assert short.confidence > rambling.confidence


def test_language_is_detected_or_taken_as_given() -> None:
    assert detect_intent("соедините с менеджером").language == "ru"
    assert detect_intent("connect me").language == "en"
    assert detect_intent("okay", language="ru").language == "ru"
    assert detect_intent("12345").language == "en"


def test_intent_values_are_stable_strings() -> None:
    assert Intent.LEAVE_MESSAGE == "leave_message"
    assert {i.value for i in Intent} >= {"transfer", "hours", "unknown"}


@pytest.mark.parametrize(("text", "expected"), [
    ("yes that's right", True), ("да, верно", True), ("correct", True), ("sure", True),
    ("Yeah.", True), ("Угу", True), ("right", True), ("no problem", True),
    ("всё правильно", True), ("Yes, please.", True), ("ok", True), ("конечно да", True),
    ("no", False), ("нет", False), ("не совсем", False), ("nope", False),
    ("that's not right", False), ("no, it's 555 1234", False), ("да нет", False),
    ("неправильно", False), ("No, that's wrong.", False), ("не верно", False),
    ("I'm not sure", None), ("I don't know", None), ("не знаю", None), ("yes no", None),
    ("right now", None), ("hello", None), ("", None), ("maybe", None),
    ("не могли бы вы повторить", None),
])
def test_is_affirmative(text: str, expected: bool | None) -> None:
    assert is_affirmative(text) is expected


def test_rules_compile_to_known_intents() -> None:
    # every rule has slots, and every intent but UNKNOWN/AFFIRM/DENY has rules
    assert all(rule.slots and all(rule.slots) for rule in intents._RULES)
    ruled = {rule.intent for rule in intents._RULES}
    assert ruled == set(Intent) - {Intent.UNKNOWN, Intent.AFFIRM, Intent.DENY}
