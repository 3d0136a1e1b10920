"""Text preparation for speech: cleaning, empty/huge text, splitting and language detection."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voices.base import EmptyText, TtsError, UnsupportedLanguage
from voices.text import (
    clean_text,
    detect_language,
    prepare,
    split_for_speech,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("<p>Hello&nbsp;<b>there</b></p>", "Hello there"),
    ("<script>alert(1)</script>Hi <!-- note --> you", "Hi you"),
    ("**Bold** and _italic_ and `code` and ~~gone~~", "Bold and italic and code and gone"),
    ("See [our site](https://example.com/x) or ![logo](a.png)", "See our site or logo"),
    ("# Title\n\n- first item\n- second item", "Title. first item. second item"),
    ("> quoted line", "quoted line"),
    ("Спасибо! 😀👍🏽 До свидания 🇷🇺", "Спасибо! До свидания"),
    ("a\u200bb\u0007c\u202ed", "ab cd"),
    ("  many   spaces\t\tand\ttabs  ", "many spaces and tabs"),
    ("snake_case_name stays, 2 * 3 * 4 stays", "snake_case_name stays, 2 * 3 * 4 stays"),
    ("| Day | Hours |\n|---|---|\n| Mon | 9-18 |", "Day, Hours. Mon, 9-18"),
    ("Temperature 5°, № 7", "Temperature 5°, № 7"),
])
def test_clean_text_strips_markup_emoji_and_control_characters(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "😀🎉", "<br><p></p>", "...", "**", "\x00\x01"])
def test_empty_text_is_a_clear_error(raw: str) -> None:
    with pytest.raises(EmptyText, match="nothing to say"):
        prepare(raw)
    assert issubclass(EmptyText, TtsError)


def test_non_string_is_rejected() -> None:
    with pytest.raises(EmptyText, match="must be a string"):
        prepare(None)  # type: ignore[arg-type]


def test_huge_text_is_capped_at_a_sentence_end_and_split() -> None:
    sentence = "This is a sentence about the opening hours of the office. "
    prepared = prepare(sentence * 200, max_chars=500)
    assert prepared.truncated
    assert len(prepared.text) <= 500
    assert prepared.text.endswith(".")
    assert len(prepared.pieces) >= 8
    assert all(len(p) <= 220 for p in prepared.pieces)


def test_huge_text_without_punctuation_is_cut_at_a_word() -> None:
    prepared = prepare("слово " * 1000, max_chars=300)
    assert prepared.truncated and len(prepared.text) <= 300
    assert prepared.text.endswith("слово")
    assert all(len(p) <= 220 for p in prepared.pieces)


def test_first_piece_is_cut_at_a_comma_later_sentences_are_whole() -> None:
    pieces = split_for_speech("Hello, how can I help you? Please, leave a message. Thanks!")
    assert pieces == ["Hello,", "how can I help you?", "Please, leave a message.", "Thanks!"]
    assert split_for_speech("Да, конечно.") == ["Да,", "конечно."]


def test_numbers_abbreviations_and_initials_do_not_end_sentences() -> None:
    pieces = split_for_speech("Цена 3,5 рубля, т.е. недорого. Звоните Mr. Smith, A. B. Jones.",
                              cut_first_clause=False)
    assert pieces == ["Цена 3,5 рубля, т.е. недорого.", "Звоните Mr. Smith, A. B. Jones."]


def test_long_sentence_is_cut_at_clauses() -> None:
    long = ", ".join(["один два три четыре пять"] * 20) + "."
    pieces = split_for_speech(long, max_piece_chars=100)
    assert len(pieces) > 3
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces).replace(" ", "") == long.replace(" ", "")


@pytest.mark.parametrize(("text", "language"), [
    ("Здравствуйте, чем могу помочь?", "ru"),
    ("Hello, how can I help you?", "en"),
    ("Позвоните в Zoom завтра", "ru"),
    ("Meeting in Москва tomorrow afternoon", "en"),
    ("12:30", "ru"),
])
def test_language_detection_by_script(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_digits_only_use_the_default_language() -> None:
    assert detect_language("42", default="en") == "en"
    assert prepare("42", default_language="en").language == "en"


def test_other_scripts_are_unsupported() -> None:
    with pytest.raises(UnsupportedLanguage, match="Russian and English"):
        prepare("你好，我能帮你什么？")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_prepare_never_yields_unspeakable_pieces(raw: str) -> None:
    try:
        prepared = prepare(raw, max_chars=200)
    except (EmptyText, UnsupportedLanguage):
        return
    assert prepared.language in ("ru", "en")
    assert len(prepared.text) <= 200
    assert prepared.pieces
    for piece in prepared.pieces:
        assert any(ch.isalnum() for ch in piece)
        assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in piece)
