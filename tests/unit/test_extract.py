"""Phone numbers and names from noisy English and Russian transcripts, and number read-back."""

from __future__ import annotations

import pytest

from brain.nlu.extract import extract_person_name, extract_phone_number, speak_digits


@pytest.mark.parametrize(("text", "expected"), [
    ("five five five, one two three four", "5551234"),
    ("восемь девятьсот двенадцать триста сорок пять шестьдесят семь восемьдесят девять",
     "89123456789"),
    ("plus seven 912 345 67 89", "+79123456789"),
    ("Plus seven, nine one two, three four five, sixty seven, eighty nine.", "+79123456789"),
    ("double five five, one two three four", "5551234"),
    ("triple seven, eight eight", "77788"),
    ("My number is 555-1234.", "5551234"),
    ("+7 (912) 345-67-89", "+79123456789"),
    ("8-912-345-67-89", "89123456789"),
    ("Мой номер 8 912 345 67 89, спасибо", "89123456789"),
    ("Мой номер восемь, 912, триста сорок пять, 67, 89.", "89123456789"),
    ("плюс семь девятьсот двенадцать 345 шестьдесят семь 89", "+79123456789"),
    ("one eight hundred five five five oh one nine nine", "18005550199"),
    ("five five five, um, twelve thirty four", "5551234"),
    ("five hundred fifty five, one two three four", "5551234"),
    ("five hundred and five, one two", "50512"),
    ("it's 5 5 5 12 34", "5551234"),
    ("ноль пять ноль, сто двадцать три, сорок пять, шестьдесят семь", "0501234567"),
    ("номер девятьсот пять, ноль ноль один", "905001"),
    ("FIVE FIVE FIVE DASH ONE TWO THREE FOUR", "5551234"),
    # the longest number wins; words end a number
    ("call me at 10, my number is 555 1234", "5551234"),
    ("555 1234 or my wife on 555 98765", "55598765"),
])
def test_phone_numbers(text: str, expected: str) -> None:
    assert extract_phone_number(text) == expected


@pytest.mark.parametrize("text", [
    "call me at 10", "10 часов", "I'll be there at five thirty", "no number", "", "oh",
    "twenty one twelve", "плюс", "room 1234",
])
def test_no_phone_number(text: str) -> None:
    assert extract_phone_number(text) is None


def test_language_argument_is_accepted() -> None:
    assert extract_phone_number("five five five one two", "en") == "55512"
    assert extract_phone_number("пять пять пять один два", "ru") == "55512"


@pytest.mark.parametrize(("text", "expected"), [
    ("my name is John Smith", "John Smith"),
    ("this is Anna from Acme", "Anna"),
    ("it's Peter", "Peter"),
    ("меня зовут Иван Петров", "Иван Петров"),
    ("это Ольга", "Ольга"),
    ("John Smith.", "John Smith"),
    ("john smith", "John Smith"),
    ("Hi, this is Anna.", "Anna"),
    ("Hello, my name's Mary O'Brien and I'm calling about my appointment.", "Mary O'Brien"),
    ("MY NAME IS JOHN", "John"),
    ("Anna speaking.", "Anna"),
    ("well, John Smith here", "John Smith"),
    ("Dr. Smith speaking", "Smith"),
    ("иван петров", "Иван Петров"),
    ("Здравствуйте, это Ольга Сергеевна из Акме.", "Ольга Сергеевна"),
    ("я Иван", "Иван"),
    ("Меня зовут Анна-Мария", "Анна-Мария"),
    ("Алло, Иван беспокоит", "Иван"),
    ("my name is John and I need help", "John"),
    ("the name is McDonald", "McDonald"),
    ("Моё имя Пётр", "Пётр"),
])
def test_person_names(text: str, expected: str) -> None:
    assert extract_person_name(text) == expected


@pytest.mark.parametrize("text", [
    "I don't know", "no", "Yes", "Hello", "Не знаю", "нет", "okay, thanks",
    "I'm calling about my appointment", "i am calling about my appointment",
    "Это очень срочно.", "я по поводу записи", "call me back", "this is about the bill",
    "it's urgent", "I'd like to leave a message for the doctor", "555 1234", "", "...",
])
def test_no_person_name(text: str) -> None:
    assert extract_person_name(text) is None


@pytest.mark.parametrize(("number", "language", "expected"), [
    ("5551234", "en", "5 5 5, 1 2 3 4"),
    ("2125551234", "en", "2 1 2, 5 5 5, 1 2 3 4"),
    ("+15551234567", "en", "plus 1, 5 5 5, 1 2 3, 4 5 6 7"),
    ("12345", "en", "1 2 3, 4 5"),
    ("1234", "en", "1 2 3 4"),
    ("89123456789", "ru", "8, 912, 345, 67, 89"),
    ("+79123456789", "ru", "плюс 7, 912, 345, 67, 89"),
    ("1234567", "ru", "123, 45, 67"),
    ("4951050505", "ru", "495, 105, 0 5, 0 5"),  # a group starting with 0: digit by digit
    ("+7 (912) 045-67-89", "ru", "плюс 7, 912, 0 4 5, 67, 89"),
])
def test_speak_digits(number: str, language: str, expected: str) -> None:
    assert speak_digits(number, language) == expected


def test_speak_digits_keeps_every_digit_in_order() -> None:
    for number in ("5", "55", "555123", "55512345", "555123456789", "+4412345678901"):
        for language in ("en", "ru"):
            spoken = speak_digits(number, language)
            assert "".join(ch for ch in spoken if ch.isdigit()) == number.lstrip("+")
    assert speak_digits("", "en") == ""


def test_extracted_number_reads_back() -> None:
    number = extract_phone_number("восемь девятьсот двенадцать триста сорок пять 67 89")
    assert speak_digits(number, "ru") == "8, 912, 345, 67, 89"
    number = extract_phone_number("five five five, one two three four")
    assert speak_digits(number, "en") == "5 5 5, 1 2 3 4"
