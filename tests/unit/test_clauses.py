"""ClauseSplitter: where a streamed reply is cut, what is cleaned away, and that any chunking of
the same text gives the same clauses without losing a word."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brain.clauses import ClauseSplitter


def split(text: str, chunks: list[int] | None = None, **kw: int) -> list[str]:
    """Feed `text` cut at the given sizes (cycled), or one character at a time."""
    splitter = ClauseSplitter(**kw)
    sizes = chunks or [1]
    out: list[str] = []
    pos = k = 0
    while pos < len(text):
        size = max(1, sizes[k % len(sizes)])
        out += splitter.feed(text[pos:pos + size])
        pos += size
        k += 1
    return out + splitter.flush()


def whole(text: str, **kw: int) -> list[str]:
    splitter = ClauseSplitter(**kw)
    return splitter.feed(text) + splitter.flush()


def test_sentences_and_long_clauses() -> None:
    text = ("Hello! Our clinic is open from 9 to 6, Monday to Friday. "
            "Would you like to leave a message?")
    assert split(text) == ["Hello!", "Our clinic is open from 9 to 6,", "Monday to Friday.",
                           "Would you like to leave a message?"]


def test_short_clause_is_not_cut_at_a_comma() -> None:
    assert whole("Yes, I can do that.") == ["Yes, I can do that."]
    assert whole("Hello, John, how are you today?") == ["Hello, John,", "how are you today?"]
    assert whole("Yes, I can.", min_chars=0) == ["Yes,", "I can."]


def test_first_clause_comes_out_before_the_stream_ends() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("Our office is open today") == []
    assert splitter.feed(",") == []  # the next character decides: "1,000" is no clause end
    assert splitter.feed(" until six pm") == ["Our office is open today,"]
    assert splitter.feed(".") == []
    assert splitter.feed(" Bye!") == ["until six pm."]
    assert splitter.flush() == ["Bye!"]
    assert splitter.flush() == []


def test_numbers_are_never_cut() -> None:
    text = "It costs 3.5 dollars, or 1,000 rubles at 10:30 sharp, and that is 2.5% less."
    assert split(text, min_chars=0) == ["It costs 3.5 dollars,", "or 1,000 rubles at 10:30 sharp,",
                                        "and that is 2.5% less."]


def test_abbreviations_and_initials() -> None:
    assert whole("Dr. Smith sees patients, e.g. children, i.e. kids. Call J. Smith. Ok.",
                 min_chars=40) == ["Dr. Smith sees patients, e.g. children, i.e. kids.",
                                   "Call J. Smith.", "Ok."]
    assert whole("Мы на ул. Ленина, д. 5, т.е. в центре. А. С. Пушкин рядом.", min_chars=40) == [
        "Мы на ул. Ленина, д. 5, т.е. в центре.", "А. С. Пушкин рядом."]


def test_etc_ends_a_sentence_before_a_capital() -> None:
    assert whole("Bring your card, passport etc. Then come in.", min_chars=40) == [
        "Bring your card, passport etc.", "Then come in."]
    assert whole("Берите паспорт, полис и т.д. и приходите.", min_chars=60) == [
        "Берите паспорт, полис и т.д. и приходите."]


def test_ellipsis_in_progress_waits() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("Well.") == []
    assert splitter.feed(".") == []
    assert splitter.feed(". let me see") == ["Well..."]
    assert splitter.flush() == ["let me see"]
    assert whole("Хм… Сейчас посмотрю?! Да.") == ["Хм…", "Сейчас посмотрю?!", "Да."]


def test_dashes_and_ranges() -> None:
    assert whole("Москва — столица России, это знают все.", min_chars=5) == [
        "Москва —", "столица России,", "это знают все."]
    assert whole("Работаем с 9 - 18 по будням.") == ["Работаем с 9 - 18 по будням."]
    assert whole("Well-known clinic - the best in town.", min_chars=5) == [
        "Well-known clinic -", "the best in town."]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert whole('He said "call me." Then he left.') == ['He said "call me."', "Then he left."]


def test_markdown_bullets_and_emoji_are_stripped() -> None:
    text = ("**Hours**:\n- Mon–Fri: 9–6\n* Sat: 10–2\n## Address\n1. Call us. 2. Come in.\n"
            "Sure 👍🏽 see `you` ❤️ soon! [Map](https://example.com/map) 🙂")
    assert split(text, [3, 7]) == ["Hours:", "Mon–Fri: 9–6", "Sat: 10–2", "Address",
                                   "1. Call us.", "2. Come in.", "Sure see you soon!", "Map"]


def test_pieces_without_words_are_dropped() -> None:
    assert whole("... 🙂 ** \n - \n Hi.") == ["Hi."]
    assert whole("") == []
    assert whole("   \n  ") == []


def test_hard_cut_at_max_chars_on_a_space() -> None:
    text = " ".join(["word"] * 30)  # 149 characters, no punctuation
    clauses = split(text, [5], max_chars=40)
    assert all(len(c) <= 40 for c in clauses)
    assert " ".join(clauses) == text
    assert clauses[0] == " ".join(["word"] * 8)  # 39 characters; one more would be 44
    assert split("x" * 100, max_chars=40) == ["x" * 40, "x" * 40, "x" * 20]


def test_flush_resets_for_the_next_reply() -> None:
    splitter = ClauseSplitter()
    splitter.feed("First reply without an end")
    assert splitter.flush() == ["First reply without an end"]
    assert splitter.feed("- Second. ") == ["Second."]  # a new line: the bullet is stripped


def test_bad_limits() -> None:
    with pytest.raises(ValueError):
        ClauseSplitter(min_chars=-1)
    with pytest.raises(ValueError):
        ClauseSplitter(min_chars=20, max_chars=10)


_ALPHABET = "abcXYZабвЖ0123456789   \n.,!?;:…-—*#`'\"()😀👍"
_WORD = re.compile(r"[^\W_]+")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=_ALPHABET, max_size=300),
       chunks=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=20),
       min_chars=st.integers(min_value=0, max_value=30),
       max_chars=st.integers(min_value=31, max_value=120))
def test_any_chunking_gives_the_same_clauses_and_keeps_every_word(
        text: str, chunks: list[int], min_chars: int, max_chars: int) -> None:
    expected = whole(text, min_chars=min_chars, max_chars=max_chars)
    assert split(text, chunks, min_chars=min_chars, max_chars=max_chars) == expected
    assert split(text, min_chars=min_chars, max_chars=max_chars) == expected
    assert all(c == c.strip() and c for c in expected)
    joined = " ".join(expected)
    if all(len(run) <= max_chars for run in text.split()):
        assert _WORD.findall(joined) == _WORD.findall(text)
    else:  # a run longer than a clause is cut inside: its letters all survive, in order
        assert "".join(_WORD.findall(joined)) == "".join(_WORD.findall(text))
