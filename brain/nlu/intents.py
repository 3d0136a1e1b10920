"""What the caller wants, by rules: `detect_intent` for the secretary's duties (take a message,
transfer, business hours, goodbye, repeat, greetings) and `is_affirmative` for yes/no answers,
in Russian and English, on noisy transcripts and chat text.

Rules are phrases written in plain words below; English words are compared by Snowball stem,
Russian ones by the prefixes written with a trailing "*" (Russian endings vary too much for
the stemmer alone). A phrase matches when its words occur in order with at most `max_gap` other
words between them, so "leave message" also finds "leave him a short message". A phrase
preceded by a negation in the same clause ("I don't want to leave a message", "не надо
соединять") does not count."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from brain.nlu.text import detect_language, is_stop_word, normalize, stem

__all__ = ["Intent", "IntentMatch", "detect_intent", "is_affirmative"]


class Intent(StrEnum):
    LEAVE_MESSAGE = "leave_message"
    TRANSFER = "transfer"
    HOURS = "hours"
    GOODBYE = "goodbye"
    AFFIRM = "affirm"
    DENY = "deny"
    REPEAT = "repeat"
    GREETING = "greeting"
    THANKS = "thanks"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class IntentMatch:
    """The detected intent, how sure the rules are (0..1; 0 for UNKNOWN), and the language of
    the text (as given, or detected from its script)."""

    intent: Intent
    confidence: float
    language: str


# When several intents match, the caller's request wins over closing words, and closing words
# over politeness: "yes, please connect me" is a transfer, "thanks, bye" a goodbye.
_TIER = {
    Intent.LEAVE_MESSAGE: 2, Intent.TRANSFER: 2, Intent.HOURS: 2, Intent.REPEAT: 2,
    Intent.GOODBYE: 1,
    Intent.GREETING: 0, Intent.THANKS: 0, Intent.AFFIRM: 0, Intent.DENY: 0,
}


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_CLAUSE_END = re.compile(r"[.!?;,:…]+|\s[—–-]\s|\b(?:but|но|однако)\b")
# Hyphens split words here: "что-что", "кто-нибудь", "call-back".
_TOKEN = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+")

# Words that may surround a "whole" phrase, which must otherwise be the whole utterance
# ("sorry, what?", "operator, please", "можно менеджера").
_FILLERS = _wordset(
    """um uh er erm hmm mm oh ah well so okay ok please sorry excuse me pardon just the a an
    can could may i have get to want would like need with speak talk you your my some
    э эм ну а ой так пожалуйста извините простите можно мне хочу нужен нужна нужно дайте
    с мной вы ваш вашего""")

# Between a negation and the phrase it negates only these words may stand: "not really want to
# leave", "не надо соединять". Anything else ends its reach: in "I don't know, can you take a
# message" the "not" is about knowing.
_NEGATION_REACH = _wordset(
    """want wanna to really need like would going have wish plan think i am do does did it
    that this any anyone anybody anything just actually even yet try trying feel bother
    хочу хотел хотела хотим хотели хотелось надо нужно нужен нужна буду будем будете стану
    собираюсь бы мне меня нам ничего никому никого никакого никакое ни с к вы вам
    ему ей им сейчас пока""")
_NEGATORS = frozenset({"not", "never", "не", "ни"})
# Words that add nothing to a greeting, thanks or yes/no: "thanks a lot", "спасибо большое".
_HARMLESS = _wordset(
    """lot much very so there again everyone everybody all folks guys indeed kindly dear
    большое огромное вам тебе еще раз всем всех добрый доброе день утро вечер очень""")


@dataclass(frozen=True)
class _Phrase:
    intent: Intent
    weight: float
    slots: tuple[tuple[str, ...], ...]  # each slot: alternatives (stems, or prefixes ending *)
    whole: bool = False
    max_gap: int = 2


def _compile_word(word: str) -> str:
    return word if word.endswith("*") else stem(normalize(word))


def _phrase(intent: Intent, weight: float, text: str, *, whole: bool = False,
            max_gap: int = 2) -> _Phrase:
    slots = tuple(tuple(_compile_word(w) for w in slot.split("|")) for slot in text.split())
    return _Phrase(intent, weight, slots, whole, max_gap)


def _phrases(intent: Intent, weight: float, texts: Iterable[str], *, whole: bool = False,
             max_gap: int = 2) -> list[_Phrase]:
    return [_phrase(intent, weight, text, whole=whole, max_gap=max_gap) for text in texts]


_PEOPLE = ("someone|somebody|anyone|anybody|human|person|manager|operator|doctor|dentist|"
           "receptionist|representative|agent|boss|owner|director|staff|administrator")
_RU_PEOPLE = ("человек*|менеджер*|оператор*|администратор*|руководител*|директор*|врач*|"
              "специалист*|сотрудник*|начальник*|доктор*")

_RULES: tuple[_Phrase, ...] = tuple(
    _phrases(Intent.LEAVE_MESSAGE, 0.9, [
        "leave|take|pass|give|send|record|get message|note|voicemail",
        "call|ring me back",
        "have|ask|get him|her|them call|ring|phone",
        "tell|let him|her|them",
        "tell|let doctor|manager|dentist|boss know|that",
        "оставить|оставлю|оставьте|передать|передайте|запишите|примите|принять|записать "
        "сообщени*|послани*|записк*|информаци*",
        "передай*|передат*|передад*|передава*",
        "перезвонит*",
        "пусть позвонит|перезвонит|свяжется|наберет",
        "скажите|скажи ему|ей|им",
    ])
    + _phrases(Intent.LEAVE_MESSAGE, 0.7, ["message|voicemail", "сообщени*"], whole=True)
    + _phrases(Intent.TRANSFER, 0.9, [
        f"speak|talk|chat to|with {_PEOPLE}|him|her|dr|mr|mrs|ms",
        "speak|talk to|with real|live|actual",
        "connect|transfer me",
        "put me through",
        "connect|transfer to",
        "real|live|actual person|human|operator",
        "соедин*",
        "переключ*",
        f"перевед* меня|{_RU_PEOPLE}",
        f"позов*|пригласит*|пригласи* {_RU_PEOPLE}|кого*|его|ее",
        f"поговорить|говорить|разговаривать с {_RU_PEOPLE}|кем*|ним|нею|ней",
        "жив* человек*|оператор*|люд*",
    ], max_gap=3)
    + _phrases(Intent.TRANSFER, 0.85, [
        "can|could|may i speak|talk to|with", "можно|могу поговорить|говорить с",
    ])
    + _phrases(Intent.TRANSFER, 0.75, [
        _PEOPLE, "human|person|people", "real person", _RU_PEOPLE,
    ], whole=True)
    + _phrases(Intent.HOURS, 0.9, [
        "opening|business|office|working|work hours",
        "what|when time open|close|closing|opening",
        "when open|close|closing|opening",
        "open|closed on|today|tonight|tomorrow|weekend|weekends|monday|tuesday|wednesday|"
        "thursday|friday|saturday|sunday|mondays|saturdays|sundays|now|late|until|till",
        "are you open|closed",
        "how late|long open|until|till",
        "когда|сколько|скольки работает*|работают|работаете|работаем|открыва*|"
        "закрыва*|открыт*|закрыт*|откроет*",
        "график*|режим*|час*|время работ*",
        "работает*|работают|работаете|работаем ли|сегодня|завтра|в|во|до|сейчас|выходн*",
        "до скольки|скольких",
        "вы открыт*|закрыт*",
    ], max_gap=3)
    + _phrases(Intent.HOURS, 0.7, ["hours", "часы"])
    + _phrases(Intent.GOODBYE, 0.9, [
        "bye", "goodbye", "good bye", "see you", "that is all", "that is it", "that will be all",
        "nothing else", "have nice|good|great day|evening|weekend", "talk to you later",
        "до свидания|свиданья", "всего доброго|хорошего|наилучшего", "до встречи",
        "это все", "на этом все", "больше ничего", "все спасибо", "прощайте",
    ])
    + _phrases(Intent.GOODBYE, 0.8, ["все", "пока", "пока пока", "that is all", "that is it"],
               whole=True)
    + _phrases(Intent.REPEAT, 0.9, [
        "repeat|repeating", "say|tell that|it again", "say again", "come again",
        "one more time", "not hear|catch|get|understand that|you|it|what",
        "what did|was you say|said|that",
        "повтори*|повторит*", "не расслыш*|услыш*|понял*|понят*|разобрал*",
        "что|как вы сказал*|говорит*",
    ])
    + _phrases(Intent.REPEAT, 0.8, ["еще раз"])
    + _phrases(Intent.REPEAT, 0.8, [
        "what", "sorry", "pardon", "huh", "excuse me", "sorry what", "what what",
        "что", "чего", "что что", "извините", "простите", "а",
    ], whole=True)
    + _phrases(Intent.GREETING, 0.8, [
        "hello", "hi", "hey", "good morning|afternoon|evening", "greetings",
        "здравствуйте|здравствуй|здрасте|здрасьте", "привет", "добрый день|вечер|утро",
        "доброе утро", "доброго дня|времени|утра", "алло|алле",
    ])
    + _phrases(Intent.THANKS, 0.8, ["thank", "thanks", "cheers", "appreciate",
                                    "спасибо", "благодар*"])
)


@dataclass(frozen=True)
class _Token:
    norm: str
    stem: str
    clause: int


def _tokens(text: str) -> list[_Token]:
    tokens = []
    for clause, part in enumerate(_CLAUSE_END.split(normalize(text))):
        for word in _TOKEN.findall(part):
            tokens.append(_Token(word, stem(word), clause))
    return tokens


def _slot_matches(slot: Sequence[str], token: _Token) -> bool:
    for alt in slot:
        if alt.endswith("*"):
            if token.norm.startswith(alt[:-1]):
                return True
        elif alt == token.stem:
            return True
    return False


def _find(phrase: _Phrase, tokens: Sequence[_Token]) -> list[tuple[int, ...]]:
    """Every way `phrase` matches, as the token indices of its slots (earliest fit each)."""
    found = []
    for start, token in enumerate(tokens):
        if not _slot_matches(phrase.slots[0], token):
            continue
        positions = [start]
        for slot in phrase.slots[1:]:
            last = positions[-1]
            nxt = next((j for j in range(last + 1, min(last + 2 + phrase.max_gap, len(tokens)))
                        if _slot_matches(slot, tokens[j])), None)
            if nxt is None:
                break
            positions.append(nxt)
        else:
            found.append(tuple(positions))
    return found


def _negated(tokens: Sequence[_Token], start: int) -> bool:
    """A negator stands before `start` in the same clause with only reach words between."""
    clause = tokens[start].clause
    i = start - 1
    while i >= 0 and tokens[i].clause == clause:
        word = tokens[i].norm
        if word in _NEGATORS or (word == "no" and i + 1 < len(tokens)
                                 and tokens[i + 1].norm == "need"):
            return True
        if word not in _NEGATION_REACH:
            return False
        i -= 1
    return False


def _is_whole(tokens: Sequence[_Token], positions: Sequence[int]) -> bool:
    used = set(positions)
    return all(i in used or t.norm in _FILLERS for i, t in enumerate(tokens))


def _rule_matches(tokens: Sequence[_Token]
                  ) -> tuple[dict[Intent, float], set[Intent], set[int]]:
    """Confidence per intent that matched, the intents found only negated, and the tokens the
    matched phrases account for."""
    weight: dict[Intent, float] = {}
    covered: dict[Intent, set[int]] = {}
    negated: set[Intent] = set()
    spans: set[int] = set()  # every token some phrase accounts for, negated or not
    for phrase in _RULES:
        for positions in _find(phrase, tokens):
            if phrase.whole and not _is_whole(tokens, positions):
                continue
            if _negated(tokens, positions[0]):
                negated.add(phrase.intent)
                spans.update(range(positions[0], positions[-1] + 1))
                continue
            weight[phrase.intent] = max(weight.get(phrase.intent, 0.0), phrase.weight)
            covered.setdefault(phrase.intent, set()).update(
                range(positions[0], positions[-1] + 1))
            spans.update(range(positions[0], positions[-1] + 1))
    fillers = {i for i, t in enumerate(tokens) if t.norm in _FILLERS}
    found = {}
    for intent, best in weight.items():
        # Confidence grows with the share of the utterance the intent's phrases explain, so a
        # long ramble that happens to contain "hours" is less sure than "what are your hours".
        share = len(covered[intent] | fillers) / len(tokens)
        found[intent] = best * (0.8 + 0.2 * share)
    return found, negated - set(found), spans


def _says_more(tokens: Sequence[_Token], explained: set[int]) -> bool:
    """Whether the utterance carries words no phrase accounts for ("Hi, what is your
    address?"): then a greeting, thanks or yes/no is not what the caller wants."""
    return any(i not in explained and t.norm not in _FILLERS and t.norm not in _HARMLESS
               and not is_stop_word(t.norm) for i, t in enumerate(tokens))


def detect_intent(text: str, language: str | None = None) -> IntentMatch:
    """The caller's intent in `text` (any mix of Russian and English), with a confidence.

    Greetings, thanks and yes/no count only when they are all the utterance says: "Hi, what is
    your address?" is UNKNOWN here (a question for the FAQ), "Hi there" is a GREETING."""
    lang = language or detect_language(text)
    tokens = _tokens(text)
    if not tokens:
        return IntentMatch(Intent.UNKNOWN, 0.0, lang)
    found, negated, explained = _rule_matches(tokens)
    answer = _yes_no(tokens)
    if answer is not None:
        intent = Intent.AFFIRM if answer.value else Intent.DENY
        found[intent] = max(found.get(intent, 0.0), answer.confidence)
        explained |= answer.covered
    if _says_more(tokens, explained):
        found = {i: c for i, c in found.items() if _TIER[i] > 0}
    if not found and negated & {Intent.LEAVE_MESSAGE, Intent.TRANSFER}:
        # "I don't want to leave a message" answers "shall I take a message?": a no.
        found[Intent.DENY] = 0.6
    if not found:
        return IntentMatch(Intent.UNKNOWN, 0.0, lang)
    intent = max(found, key=lambda i: (_TIER[i], found[i]))
    return IntentMatch(intent, round(found[intent], 3), lang)


# --- yes / no -------------------------------------------------------------------------------

# Phrases are matched longest first at each position, so "no problem" is a yes and "not sure"
# is neither. Multi-word entries are contiguous words of normalised text.
_YES = (
    "yes", "yeah", "yea", "yep", "yup", "ya", "sure", "correct", "that is right",
    "that is correct", "all right", "alright", "exactly", "absolutely", "of course", "ok",
    "okay", "go ahead", "please do", "affirmative", "definitely", "certainly", "indeed",
    "uh huh", "mhm", "mm hmm", "no problem", "no worries", "why not", "sounds good",
    "that is it", "you got it", "perfect", "yes please",
    "да", "ага", "угу", "верно", "правильно", "конечно", "хорошо", "давайте", "давай", "точно",
    "именно", "ладно", "окей", "ок", "разумеется", "естественно", "не вопрос", "без проблем",
    "почему бы и нет", "все верно", "все правильно", "совершенно верно", "так точно",
    "подтверждаю", "согласен", "согласна",
)
# Said alone they answer yes; inside a sentence they usually mean something else ("right now").
_YES_ALONE = frozenset({"right", "fine", "great", "good", "так", "можно", "отлично", "супер"})
_NO = (
    "no", "nope", "nah", "negative", "wrong", "incorrect", "not right", "not correct",
    "not quite", "not really", "not exactly", "no way", "not at all", "absolutely not",
    "of course not", "no thanks", "no thank you", "that is wrong", "that is not right",
    "нет", "неа", "не", "неверно", "неправильно", "не верно", "не правильно", "не совсем",
    "не так", "не то", "не надо", "не нужно", "ни в коем случае", "да нет", "нет нет",
    "ошибка", "ошиблись", "не тот", "не та",
)
# Consumed without a vote: the "не" of a polite question is no "no".
_NEUTRAL = ("не могли бы", "не могли", "не можете", "не подскажете", "не подскажите",
            "не скажете", "не подскажешь")
_UNSURE = (
    "not sure", "do not know", "maybe", "perhaps", "i guess", "no idea", "not certain",
    "не знаю", "может быть", "возможно", "не уверен", "не уверена", "не помню",
)
_PHRASE_BOOK: dict[tuple[str, ...], int | None] = {
    **{tuple(p.split()): 1 for p in _YES},
    **{tuple(p.split()): 0 for p in _NO},
    **{tuple(p.split()): -1 for p in _UNSURE},
    **{tuple(p.split()): None for p in _NEUTRAL},
}
_LONGEST = max(len(p) for p in _PHRASE_BOOK)
_ANSWER_FILLERS = frozenset({"um", "uh", "er", "erm", "hmm", "oh", "ah", "well", "sir", "madam",
                             "please", "thanks", "thank", "you", "it", "is", "that", "э", "ну",
                             "а", "ой", "спасибо", "пожалуйста", "это", "так"})


@dataclass(frozen=True)
class _Answer:
    value: bool
    confidence: float
    covered: frozenset[int]  # token positions of the yes/no words


def _yes_no(tokens: Sequence[_Token]) -> _Answer | None:
    words = [t.norm for t in tokens]
    votes: list[int] = []
    covered: set[int] = set()
    i = 0
    while i < len(words):
        for size in range(min(_LONGEST, len(words) - i), 0, -1):
            phrase = tuple(words[i:i + size])
            if phrase in _PHRASE_BOOK:
                vote = _PHRASE_BOOK[phrase]
                if vote is not None:
                    votes.append(vote)
                    covered.update(range(i, i + size))
                i += size
                break
        else:
            i += 1
    if not votes and all(w in _YES_ALONE or w in _ANSWER_FILLERS for w in words):
        alone = {i for i, w in enumerate(words) if w in _YES_ALONE}
        if alone:
            votes.append(1)
            covered |= alone
    if -1 in votes or not votes or (0 in votes and 1 in votes):
        return None
    rest = sum(1 for i, w in enumerate(words) if i not in covered and w not in _ANSWER_FILLERS)
    # A bare "yes" is surer than a yes somewhere in a long sentence.
    confidence = 0.9 if rest <= 1 else 0.75
    return _Answer(votes[0] == 1, confidence, frozenset(covered))


def is_affirmative(text: str) -> bool | None:
    """True for a yes, False for a no, None when the answer is unclear, mixed ("yes... no") or
    uncertain ("I'm not sure")."""
    answer = _yes_no(_tokens(text))
    return None if answer is None else answer.value
