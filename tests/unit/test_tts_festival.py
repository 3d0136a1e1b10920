"""Festival (festvox-ru) as a long-lived server: real Russian speech, reuse and restart."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.signal_analysis import rms
from voices.base import AudioChunk, TtsError, collect_audio
from voices.festival import FestivalEngine, FestivalError, festival_text, scheme_string
from voices.profile import VoiceProfile

RUSSIAN = VoiceProfile("test-ru", "ru", ("festival",))

pytestmark = pytest.mark.skipif(shutil.which("festival") is None,
                                reason="Debian festival + festvox-ru are not installed")


@pytest.fixture(scope="module")
def festival() -> FestivalEngine:
    engine = FestivalEngine()
    ok, why = engine.available()
    assert ok, why
    engine._ensure_started()  # once per module: ~1 s to load the voice
    yield engine
    engine.close()
    assert engine.server.pid is None


def samples(chunk: AudioChunk) -> np.ndarray:
    return np.frombuffer(chunk.pcm16, dtype=np.int16).astype(np.float32)


async def test_speaks_russian_words_not_letters(festival: FestivalEngine) -> None:
    text = "Здравствуйте, чем могу помочь?"
    chunks = [c async for c in festival.stream(text, RUSSIAN)]
    assert {c.sample_rate for c in chunks} == {16000}
    assert [c.text for c in chunks] == ["Здравствуйте,", "чем могу помочь?"]
    audio = await collect_audio(_replay(chunks))
    # Four words read as words take 1-3 s; spelled letter by letter (29 letters) they
    # would take far longer. Silence around each clause is trimmed to ~0.15 s.
    assert 1.0 < audio.duration < 3.5
    assert rms(samples(audio)) > 1000
    for chunk in chunks:
        x = samples(chunk)
        assert rms(x[: len(x) // 2]) > 300 and rms(x[len(x) // 2:]) > 300


async def _replay(chunks: list[AudioChunk]):
    for chunk in chunks:
        yield chunk


async def test_server_is_reused_then_restarted_after_being_killed(
        festival: FestivalEngine) -> None:
    pid = festival.server.pid
    starts = festival.server.starts
    assert pid is not None
    first = await collect_audio(festival.stream("Первая фраза.", RUSSIAN))
    second = await collect_audio(festival.stream("Вторая фраза.", RUSSIAN))
    assert first.duration > 0.4 and second.duration > 0.4
    assert festival.server.pid == pid and festival.server.starts == starts

    festival.server.kill()
    assert festival.server.pid is None
    third = await collect_audio(festival.stream("Третья фраза.", RUSSIAN))
    assert third.duration > 0.4 and rms(samples(third)) > 1000
    assert festival.server.pid not in (None, pid)
    assert festival.server.starts == starts + 1


async def test_awkward_characters_are_made_speakable(festival: FestivalEngine) -> None:
    # each of these alone used to make msu_ru_nsh fail the whole utterance
    text = 'Встреча в 10:30, цена 3,5 тысячи — «недорого» (50%), путь C:\\temp "ок".'
    audio = await collect_audio(festival.stream(text, RUSSIAN))
    assert audio.duration > 2.0 and rms(samples(audio)) > 1000


def test_festival_text_rules() -> None:
    assert festival_text("10:30, 3,5 и 10 000") == "10 30, 3 5 и 10000"
    assert festival_text("«Да» — (нет) [x]") == "Да, нет, x"
    assert festival_text("50% + 2") == "50 процентов плюс 2"
    assert festival_text('a\\b "c"') == "a b c"


async def test_quotes_cannot_escape_into_scheme(festival: FestivalEngine,
                                                tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f'да") (system "touch {marker}") ("'
    assert scheme_string(evil) == '"да\\") (system \\"touch ' + str(marker) + '\\") (\\""'
    # the voice may refuse the brackets; what matters is that nothing ran
    with contextlib.suppress(FestivalError):
        festival.server.request(f"(Parameter.set 'Wavefiletype 'riff) "
                                f"(tts_textall {scheme_string(evil)} \"nil\")")
    assert not marker.exists()
    # and the server still works
    assert (await collect_audio(festival.stream("Да.", RUSSIAN))).duration > 0.2


async def test_english_text_is_refused(festival: FestivalEngine) -> None:
    with pytest.raises(TtsError, match="no en voice"):
        async for _ in festival.stream("Hello, how are you?", RUSSIAN):
            pass


def test_missing_binary_or_voice_is_unavailable() -> None:
    ok, why = FestivalEngine(binary="festival-not-installed").available()
    assert not ok and "not installed" in why
    ok, why = FestivalEngine({"ru": "no_such_voice_clunits"}).available()
    assert not ok and "no_such_voice_clunits" in why
