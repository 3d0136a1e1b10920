"""Deterministic language skills for Russian and English: what the caller wants, and the facts
in what they said (phone numbers, names), without any language model.

    text.py      normalising, tokenising, stop words, stemming (shared by the rest)
    intents.py   Intent, detect_intent, is_affirmative
    extract.py   extract_phone_number, extract_person_name, speak_digits"""

from brain.nlu.extract import extract_person_name, extract_phone_number, speak_digits
from brain.nlu.intents import Intent, IntentMatch, detect_intent, is_affirmative

__all__ = [
    "Intent",
    "IntentMatch",
    "detect_intent",
    "extract_person_name",
    "extract_phone_number",
    "is_affirmative",
    "speak_digits",
]
