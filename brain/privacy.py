"""Masking what should not sit in stored transcripts: phone numbers and card-like digit
runs. Applied when a turn or a transcript line is written (settings: privacy.mask_numbers),
so the database and the call log never hold them; messages for the boss keep their
callback number, which is their point."""

from __future__ import annotations

import re

__all__ = ["mask_numbers"]

# A run of digits with the separators people and STT put between them ("+7 (912) 345-67-89",
# "4111 1111 1111 1111"). Times ("10:30") break a run; dates ("12.03.2026") are kept.
_DIGIT_RUN = re.compile(r"\+?\d(?:[\s\-().]{0,2}\d)+")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
MIN_DIGITS = 7  # the shortest local phone numbers; prices and years are shorter
KEEP_LAST = 2  # enough for a person to tell two numbers apart


def mask_numbers(text: str) -> str:
    """`text` with each run of MIN_DIGITS+ digits masked but its last KEEP_LAST digits and
    its separators ("+7 912 345-67-89" -> "+* *** ***-**-89")."""
    return _DIGIT_RUN.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(ch.isdigit() for ch in run)
    if digits < MIN_DIGITS or _DATE.fullmatch(run):
        return run
    keep_from = digits - KEEP_LAST
    out, seen = [], 0
    for ch in run:
        if ch.isdigit():
            out.append(ch if seen >= keep_from else "*")
            seen += 1
        else:
            out.append(ch)
    return "".join(out)
