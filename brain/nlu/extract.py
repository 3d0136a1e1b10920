"""Facts in what the caller said: a phone number (from digits and/or number words, Russian and
English), the caller's name, and the text to read a number back.

Speech recognisers write numbers both ways ("555 1234", "five five five one two three four",
"восемь девятьсот двенадцать"), split them with commas and dashes, and mix the two in one
utterance; `extract_phone_number` accepts all of it. Names come from cue phrases ("my name is",
"меня зовут", "this is", "это") or a bare short reply, checked against words that are never
names."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from brain.nlu.intents import is_affirmative
from brain.nlu.text import STOP_WORDS, expand_contractions

__all__ = ["extract_person_name", "extract_phone_number", "speak_digits"]

MIN_PHONE_DIGITS = 5

_UNITS = {
    "zero": 0, "nought": 0, "naught": 0, "nil": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ноль": 0, "нуль": 0, "один": 1, "одна": 1, "одно": 1, "два": 2, "две": 2, "три": 3,
    "четыре": 4, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9,
}
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "десять": 10, "одиннадцать": 11, "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14,
    "пятнадцать": 15, "шестнадцать": 16, "семнадцать": 17, "восемнадцать": 18,
    "девятнадцать": 19,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
    "двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50, "шестьдесят": 60,
    "семьдесят": 70, "восемьдесят": 80, "девяносто": 90,
}
_HUNDREDS = {
    "сто": 100, "двести": 200, "триста": 300, "четыреста": 400, "пятьсот": 500,
    "шестьсот": 600, "семьсот": 700, "восемьсот": 800, "девятьсот": 900,
}
_REPEATS = {"double": 2, "triple": 3}
_PLUS = {"+", "plus", "плюс"}
_OH = {"oh", "o"}  # zero, but only inside a number: "oh, my number is" starts no number
# Words that may stand inside a spoken number without ending it.
_NUMBER_JOINERS = {"dash", "hyphen", "тире", "дефис", "um", "uh", "er", "erm", "hmm", "э", "эм",
                   "ну"}
_AND = {"and", "и"}  # "five hundred and fifty": only right after a hundred

_NUMBER_TOKEN = re.compile(r"\+|\d+|[^\W\d_]+|[.!?]+(?=\s|$)")


@dataclass
class _Run:
    """One spoken number being read: finished digit groups and the group still being built
    ("девятьсот" may yet become "девятьсот двенадцать")."""

    plus: bool = False
    parts: list[str] = field(default_factory=list)
    value: int | None = None
    takes_tens: bool = False
    takes_units: bool = False
    takes_hundred: bool = False
    repeat: int = 1

    @property
    def empty(self) -> bool:
        return not self.parts and self.value is None

    def digits(self) -> str:
        self.flush()
        return "".join(self.parts)

    def flush(self) -> None:
        if self.value is not None:
            self.parts.append(str(self.value))
        self.value = None
        self.takes_tens = self.takes_units = self.takes_hundred = False

    def start(self, value: int, *, tens: bool = False, units: bool = False,
              hundred: bool = False) -> None:
        self.flush()
        self.value = value
        self.takes_tens, self.takes_units, self.takes_hundred = tens, units, hundred

    def digit_string(self, digits: str) -> None:
        self.flush()
        if self.repeat > 1 and len(digits) == 1:
            digits *= self.repeat
        self.repeat = 1
        self.parts.append(digits)

    def unit(self, value: int) -> None:
        if self.repeat > 1:
            self.digit_string(str(value))
        elif self.value is not None and self.takes_units:
            self.value += value
            self.flush()
        else:
            self.start(value, hundred=True)

    def teen(self, value: int) -> None:
        if self.value is not None and self.takes_tens:
            self.value += value
            self.flush()
        else:
            self.start(value)
            self.flush()

    def tens(self, value: int) -> None:
        if self.value is not None and self.takes_tens:
            self.value += value
            self.takes_tens, self.takes_units = False, True
        else:
            self.start(value, units=True)

    def hundred(self) -> None:
        # English says "eight hundred and five" or "eight oh five": a bare unit after
        # "hundred" is the next digit ("one eight hundred five five five").
        if self.value is not None and self.takes_hundred:
            self.value *= 100
            self.takes_hundred = False
            self.takes_tens, self.takes_units = True, False
        else:
            self.start(100, tens=True)

    def and_(self) -> None:
        self.takes_units = True


def _number_runs(text: str) -> list[_Run]:
    runs: list[_Run] = []
    run = _Run()
    for token in _NUMBER_TOKEN.findall(text.casefold().replace("ё", "е")):
        if token.isdigit():
            run.digit_string(token)
        elif token in _UNITS:
            run.unit(_UNITS[token])
        elif token in _OH and not run.empty:
            run.unit(0)
        elif token in _TEENS:
            run.teen(_TEENS[token])
        elif token in _TENS:
            run.tens(_TENS[token])
        elif token in _HUNDREDS:
            run.start(_HUNDREDS[token], tens=True, units=True)
        elif token == "hundred":
            run.hundred()
        elif token in _REPEATS:
            run.flush()
            run.repeat = _REPEATS[token]
        elif token in _PLUS and run.empty:
            run.plus = True
        elif token in _AND and run.takes_tens:
            run.and_()
        elif token in _NUMBER_JOINERS:
            continue
        else:
            if not run.empty:
                runs.append(run)
            run = _Run(plus=token in _PLUS)
    if not run.empty:
        runs.append(run)
    return runs


def extract_phone_number(text: str, language: str | None = None) -> str | None:
    """The phone number in `text` as digits (a leading "+" kept), read from digits and/or
    number words in Russian or English; the longest number when there are several. None when
    no number has at least 5 digits. `language` is accepted for symmetry: both languages'
    number words are always understood."""
    best = ""
    for run in _number_runs(text):
        digits = run.digits()
        if len(digits) > len(best.lstrip("+")):
            best = ("+" if run.plus else "") + digits
    return best if len(best.lstrip("+")) >= MIN_PHONE_DIGITS else None


# --- names ------------------------------------------------------------------------------

# Cue phrases before a name (normalised words). After a strong cue almost anything is a name;
# after a weak one ("this is", "это") the words must also look like one.
_STRONG_CUES = tuple(tuple(c.split()) for c in (
    "my name is", "name is", "my name", "the name is", "my surname is", "my last name is",
    "you can call me", "call me", "меня зовут", "зовут меня", "мое имя", "моя фамилия",
    "имя", "фамилия", "с вами говорит", "вас беспокоит", "на связи",
))
_WEAK_CUES = tuple(tuple(c.split()) for c in (
    "this is", "it is", "i am", "here is", "это", "я", "звонит", "говорит",
))
# "Anna speaking", "John here" at the start of an utterance.
_TRAILING_CUES = frozenset({"speaking", "here", "calling", "говорит", "беспокоит"})
_LEADING_FILLERS = frozenset({"hi", "hello", "hey", "well", "yes", "yeah", "oh", "um", "uh", "so",
                              "алло", "привет", "здравствуйте", "да", "ну", "э", "добрый",
                              "день", "вечер"})
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "miss", "mister", "sir", "madam"})
# A name ends at these: "Anna from Acme", "Иван из ...".
_NAME_END = frozenset({"from", "at", "with", "of", "and", "calling", "speaking", "here", "из",
                       "с", "со", "от", "и", "по", "звоню", "говорит"})


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words callers say in the name slot that are not names (besides stop words and numbers).
_NOT_NAMES = _wordset(
    """hello hi hey bye goodbye yes yeah yep yup no nope nah okay ok alright sure right fine
    good great thanks thank sorry pardon what who why where when how well um uh er erm hmm
    calling call called phoning ringing back again later soon now today tomorrow yesterday
    morning afternoon evening night monday tuesday wednesday thursday friday saturday sunday
    message number phone appointment doctor dentist manager patient client customer person
    someone somebody nobody anyone speaking urgent important busy free available interested
    looking trying wondering hoping going gonna wanna returning following waiting late new
    here there about regarding concerning afraid glad happy ready not never know don't
    unknown anonymous private nothing something please help hold wait just still also
    it's that's me myself
    алло здравствуйте привет пока спасибо пожалуйста извините простите да нет не ага угу ок
    окей ладно хорошо конечно верно правильно знаю понял поняла звоню звонил звонила звоним
    хочу хотел хотела хотим записаться запись записан записана сообщение номер телефон
    врач доктор менеджер клиент пациент пациентка сегодня завтра вчера утром вечером днем
    понедельник вторник среда четверг пятница суббота воскресенье сейчас потом позже срочно
    очень важно насчет поводу опять снова тоже просто сам сама никто кто-то неважно
    """)


def _not_name(word: str) -> bool:
    low = word.casefold().replace("ё", "е")
    return (low in _NOT_NAMES or low in STOP_WORDS["en"] or low in STOP_WORDS["ru"]
            or low in _UNITS or low in _TEENS or low in _TENS or low in _HUNDREDS
            or low in _TITLES or len(low) < 2 or not all(ch.isalpha() or ch in "'-" for ch in low))


def _case_is_informative(text: str) -> bool:
    """Whether capitals mark names here: the text mixes cases (as Whisper and people write),
    not all lower or all upper case."""
    letters = [ch for ch in text if ch.isalpha()]
    return any(ch.isupper() for ch in letters) and any(ch.islower() for ch in letters)


def _title(words: list[str]) -> str:
    return " ".join(w.title() if w.islower() or w.isupper() else w for w in words)


_TITLE_DOT = re.compile(r"\b(dr|mr|mrs|ms|st)\.", re.IGNORECASE)
_CLAUSES = re.compile(r"[.!?;,:…()\"«»]+|\s[—–-]\s")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*|\S+")


def _take_name(words: list[str], start: int, *, strong: bool, informative: bool) -> list[str]:
    name: list[str] = []
    i = start
    while i < len(words) and words[i].casefold().rstrip(".") in _TITLES:
        i += 1
    for word in words[i:i + 3]:
        low = word.casefold()
        if low in _NAME_END or _not_name(word):
            break
        capital = word[:1].isupper()
        if informative and not capital and (name or not strong):
            break
        name.append(word)
    return name


def _match_cue(lows: list[str], i: int, cues: tuple[tuple[str, ...], ...]) -> int:
    for cue in cues:
        if tuple(lows[i:i + len(cue)]) == cue:
            return len(cue)
    return 0


def extract_person_name(text: str, language: str | None = None) -> str | None:
    """The caller's name in `text` ("my name is John Smith" -> "John Smith", "это Ольга" ->
    "Ольга", a bare "john smith." -> "John Smith"), title-cased when written all in one case;
    None when there is none ("I don't know", "no"). `language` is accepted for symmetry: cues
    of both languages are always understood."""
    text = expand_contractions(unicodedata.normalize("NFKC", text))
    text = _TITLE_DOT.sub(r"\1", text)  # "Dr. Smith": the dot ends no clause
    informative = _case_is_informative(text)
    clauses = [_NAME_WORD.findall(part) for part in _CLAUSES.split(text)]
    clauses = [c for c in clauses if c]
    for strong, cues in ((True, _STRONG_CUES), (False, _WEAK_CUES)):
        for words in clauses:
            lows = [w.casefold().replace("ё", "е") for w in words]
            for i in range(len(words)):
                size = _match_cue(lows, i, cues)
                if size:
                    name = _take_name(words, i + size, strong=strong, informative=informative)
                    if name:
                        return _title(name)
    for words in clauses:
        # "(Hi,) Anna speaking", "(Well,) John Smith here": a name first, then the cue.
        while words and words[0].casefold() in _LEADING_FILLERS:
            words = words[1:]
        for size in (2, 1):
            if len(words) > size and words[size].casefold() in _TRAILING_CUES:
                name = _take_name(words[:size], 0, strong=False, informative=informative)
                if name and name[-1] is words[size - 1]:
                    return _title(name)
    # A bare reply to "what's your name?": one to three words, none of them a non-name.
    words = [w for c in clauses for w in c]
    if (1 <= len(words) <= 3 and is_affirmative(text) is None
            and not any(_not_name(w) for w in words)):
        return _title(words)
    return None


# --- reading numbers back ---------------------------------------------------------------

def _groups(digits: str, language: str) -> list[str]:
    """Digits grouped the way people of that language say phone numbers: Russian
    8 912 345-67-89 and 123-45-67, North American (1) 555 123-4567, otherwise threes."""
    n = len(digits)
    if language == "ru":
        sizes = {11: [1, 3, 3, 2, 2], 10: [3, 3, 2, 2], 7: [3, 2, 2], 6: [2, 2, 2],
                 5: [1, 2, 2]}.get(n)
        if sizes is None:
            sizes = [3] * ((n - 4) // 3) if n > 4 else []
            rest = n - sum(sizes)
            sizes += {4: [2, 2], 3: [3], 2: [2], 1: [1], 5: [3, 2], 6: [2, 2, 2]}.get(rest, [rest])
    else:
        sizes = {11: [1, 3, 3, 4], 10: [3, 3, 4], 7: [3, 4]}.get(n)
        if sizes is None:
            sizes = [3] * (n // 3)
            rest = n - sum(sizes)
            if rest == 1 and sizes:
                sizes[-1] += 1
            elif rest:
                sizes.append(rest)
    groups, pos = [], 0
    for size in sizes:
        groups.append(digits[pos:pos + size])
        pos += size
    return [g for g in groups if g]


def speak_digits(number: str, language: str) -> str:
    """Read-back text for a phone number, grouped with commas so the voice pauses between
    groups. English: digit by digit ("5 5 5, 1 2 3 4"). Russian: each group as a number, as
    Russians say phone numbers ("912, 345, 67, 89"), except groups that start with 0, which are
    said digit by digit. A leading "+" becomes "plus" / "плюс"."""
    plus = number.strip().startswith("+")
    digits = "".join(ch for ch in number if ch.isdigit())
    if not digits:
        return ""
    lang = "ru" if language == "ru" else "en"
    if plus and lang == "ru" and digits[0] == "7":
        groups = ["7", *_groups(digits[1:], lang)]
    elif plus and lang == "en" and digits[0] == "1":
        groups = ["1", *_groups(digits[1:], lang)]
    else:
        groups = _groups(digits, lang)
    if lang == "ru":
        spoken = [g if g[0] != "0" or len(g) == 1 else " ".join(g) for g in groups]
    else:
        spoken = [" ".join(g) for g in groups]
    text = ", ".join(spoken)
    if plus:
        text = ("плюс " if lang == "ru" else "plus ") + text
    return text
