"""Text helpers shared by the brain's language skills: normalising noisy transcripts and chat
text, tokenising, telling Russian from English, stop words and stemming.

Speech recognisers write the same words many ways ("Don't", "dont", "do not"; "всё", "все";
curly or straight apostrophes), so everything that compares words goes through `normalize`
first. Stemming picks the Snowball stemmer by each word's own script, so a Russian caller who
says "okay" or an English one who says "да" still gets sensible stems."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

from voices.base import UnsupportedLanguage
from voices.text import detect_language as _script_language

__all__ = [
    "STOP_WORDS",
    "content_terms",
    "detect_language",
    "expand_contractions",
    "is_stop_word",
    "normalize",
    "stem",
    "token_language",
    "tokenize",
]

# Words keep inner apostrophes and hyphens ("o'brien", "анна-мария"); digit runs are separate
# tokens so "10часов" still yields "10".
_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*|\d+")
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})

# English contractions, spelt with or without the apostrophe (Whisper writes both). Ambiguous
# bare forms ("id", "well", "hell", "were") are left alone.
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), repl)
    for pattern, repl in (
        (r"\bcan'?t\b", "can not"),
        (r"\bcannot\b", "can not"),
        (r"\bwon't\b", "will not"),
        (r"\bain'?t\b", "is not"),
        (r"\bshan't\b", "shall not"),
        (r"\b(do|does|did|is|are|was|were|has|have|had|would|should|could|must|need)n'?t\b",
         r"\1 not"),
        (r"\b(i)'?m\b", r"\1 am"),
        (r"\b(i|you|we|they)'ve\b", r"\1 have"),
        (r"\b(i|you|he|she|we|they)'d\b", r"\1 would"),
        (r"\b(i|you|he|she|it|we|they|that|there)'ll\b", r"\1 will"),
        (r"\b(you|we|they)'re\b", r"\1 are"),
        (r"\b(it|that|what|there|here|who|where|when|how|he|she|name|this)'s\b", r"\1 is"),
        (r"\b(it|that|what|there)s\b", r"\1 is"),
        (r"\blet's\b", "let us"),
        (r"\b(gon)na\b", "going to"),
        (r"\b(wan)na\b", "want to"),
    )
)

STOP_WORDS: dict[str, frozenset[str]] = {
    # Question words that separate FAQ topics ("when", "where", "much") are deliberately kept.
    "en": _wordset(
        """a an the is are am was were be been being do does did done to of in on at for with
        by from and or but so if then than that this these those it its i me my mine myself we
        us our ours you your yours he him his she her hers they them their theirs there here
        what which how will would shall should can could may might must have has had not no yes
        please hi hello hey um uh er erm ah oh well just like want wanted wanting need tell
        know let get got any some about into up out also too very really okay ok yeah sure
        thanks thank one guys kind sort actually maybe still now as all"""),
    "ru": _wordset(
        """и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по
        только ее мне было вот от меня еще нет о об из ему теперь даже ну вдруг ли если уже
        или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может
        они тут есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе
        под будет ж тогда этот того потому этого какой какая какие каким совсем ним здесь
        этом почти мой тем чтобы нее сейчас были зачем всех никогда можно при наконец хоть
        после над больше тот через эти нас про всего них много разве эту моя впрочем свою
        этой перед иногда лучше чуть том нельзя такой им более всегда между это вообще
        подскажите скажите подскажи скажи пожалуйста здравствуйте алло привет хочу хотел
        хотела хотелось хотим хотели бы ваш ваша ваше ваши вашей вашего вашем вам у вас
        знать узнать интересует интересно э эм ага угу ладно хорошо спасибо"""),
}

# Russian Snowball stems still vary with the ending ("работаете" -> "работа", "работы" ->
# "работ"); cutting stems to a fixed length is the classic cheap fix for Russian retrieval.
_RU_STEM_CHARS = 5


def expand_contractions(text: str) -> str:
    """English contractions written out ("don't" -> "do not", "im" -> "i am"); case kept
    elsewhere, curly apostrophes straightened."""
    text = text.translate(_APOSTROPHES)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    return text


def normalize(text: str) -> str:
    """Compatibility-normalised, lower-cased text with ё as е and contractions written out.
    Punctuation stays: clause boundaries matter to the callers of this function."""
    text = unicodedata.normalize("NFKC", text)
    text = expand_contractions(text)
    return text.casefold().replace("ё", "е")


def tokenize(text: str) -> list[str]:
    """Normalised word and digit-run tokens."""
    return _WORD.findall(normalize(text))


def token_language(token: str) -> str | None:
    """"ru" for a Cyrillic word, "en" for a Latin one, None for digits and other scripts."""
    for ch in token:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            if name.startswith("CYRILLIC"):
                return "ru"
            if name.startswith("LATIN"):
                return "en"
            return None
    return None


def detect_language(text: str, default: str = "en") -> str:
    """"ru" or "en" by the script most letters are written in; `default` when there are no
    letters or they are in another script."""
    try:
        return _script_language(text, default)
    except UnsupportedLanguage:
        return default


@lru_cache(maxsize=16384)
def stem(word: str, language: str | None = None) -> str:
    """Snowball stem of a normalised word; `language` None picks the stemmer by the word's
    script. Digits and words in other scripts come back unchanged. Russian stems are cut to a
    fixed length so different endings of one word meet."""
    lang = token_language(word) if language is None else language
    if lang == "ru":
        # A stemmer per call: Snowball stemmers keep per-word state and are not thread-safe,
        # and the result cache makes construction rare.
        return snowballstemmer.stemmer("russian").stemWord(word)[:_RU_STEM_CHARS]
    if lang == "en":
        return snowballstemmer.stemmer("english").stemWord(word)
    return word


def is_stop_word(token: str) -> bool:
    lang = token_language(token)
    return lang is not None and token in STOP_WORDS[lang]


def content_terms(text: str) -> list[str]:
    """Stems of the meaningful words of `text` in order: normalised, stop words dropped."""
    return [stem(token) for token in tokenize(text) if not is_stop_word(token)]
