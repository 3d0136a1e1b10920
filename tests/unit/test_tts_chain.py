"""The per-voice fallback chain and the engine factory, with real Piper and stand-in engines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from voices.base import (
    AudioChunk,
    EmptyText,
    NoEngineCanSpeak,
    SynthesisInterrupted,
    TtsEngine,
    TtsError,
    collect_audio,
)
from voices.chain import EngineRegistry, TtsSettings, VoiceSynthesizer, create_engines
from voices.festival import FestivalEngine
from voices.piper import PiperEngine, default_english_model
from voices.profile import VoiceProfile
from voices.xtts import XttsEngine


class StandIn(TtsEngine):
    """An engine that plays a scripted part: fails before or after its first chunk."""

    name: ClassVar[str] = "xtts"

    def __init__(self, languages: set[str], *, fail_at: int | None = None, chunks: int = 3,
                 name: str = "xtts") -> None:
        self._languages = frozenset(languages)
        self.fail_at = fail_at
        self.chunks = chunks
        self.name = name  # type: ignore[misc]
        self.calls = 0
        self.closed = 0

    @property
    def languages(self) -> frozenset[str]:
        return self._languages

    def available(self) -> tuple[bool, str]:
        return True, ""

    async def stream(self, text: str, voice: VoiceProfile) -> AsyncIterator[AudioChunk]:
        self.calls += 1
        try:
            for i in range(self.chunks):
                if i == self.fail_at:
                    raise TtsError(f"{self.name} broke at chunk {i}")
                yield AudioChunk(b"\x01\x00" * 2400, 24000, f"piece {i}", self.name)
        finally:
            self.closed += 1


@pytest.fixture(scope="module")
def piper() -> PiperEngine:
    engine = PiperEngine(default_english_model())
    engine._load()
    yield engine
    engine.close()


async def test_unavailable_xtts_is_skipped_and_logged_once(
        piper: PiperEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    xtts = XttsEngine(tmp_path / "no-weights", device="cpu", cache_dir=tmp_path / "cache")
    registry = EngineRegistry([xtts, piper])
    voice = VoiceProfile("anna", "ru", ("xtts", "piper"))
    synth = VoiceSynthesizer(voice, registry)
    with caplog.at_level(logging.WARNING, logger="voices.chain"):
        for _ in range(2):
            audio = await collect_audio(synth.stream("Hello, this is Anna."))
            assert audio.engine == "piper" and audio.sample_rate == 22050
            assert audio.duration > 0.8
    unavailable = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(unavailable) == 1 and "model.pth" in unavailable[0].getMessage()


async def test_engine_failing_before_first_chunk_hands_over(piper: PiperEngine) -> None:
    broken = StandIn({"en", "ru"}, fail_at=0)
    registry = EngineRegistry([broken, piper])
    synth = VoiceSynthesizer(VoiceProfile("anna", "en", ("xtts", "piper")), registry)
    chunks = [c async for c in synth.stream("Good morning, how can I help?")]
    assert broken.calls == 1
    assert chunks and {c.engine for c in chunks} == {"piper"}
    assert sum(c.duration for c in chunks) > 1.0


async def test_failure_mid_phrase_stops_without_repeating_audio() -> None:
    flaky = StandIn({"en"}, fail_at=2)
    backup = StandIn({"en"}, name="piper")
    synth = VoiceSynthesizer(VoiceProfile("anna", "en", ("xtts", "piper")),
                             EngineRegistry([flaky, backup]))
    got: list[AudioChunk] = []
    with pytest.raises(SynthesisInterrupted, match="failed mid-phrase") as info:
        async for chunk in synth.stream("One. Two. Three."):
            got.append(chunk)
    assert [c.text for c in got] == ["piece 0", "piece 1"]
    assert backup.calls == 0  # nothing is said twice
    assert info.value.delivered_text == "piece 0"


async def test_stopping_early_closes_the_engine_stream_at_once() -> None:
    engine = StandIn({"en"}, chunks=10, name="piper")
    stream = VoiceSynthesizer(VoiceProfile("anna", "en", ("piper",)),
                              EngineRegistry([engine])).stream("Hello there.")
    assert (await anext(stream)).text == "piece 0"
    await stream.aclose()  # barge-in
    assert engine.closed == 1


async def test_russian_text_never_goes_to_an_english_voice(piper: PiperEngine) -> None:
    synth = VoiceSynthesizer(VoiceProfile("eng", "en", ("piper",)), EngineRegistry([piper]))
    with pytest.raises(NoEngineCanSpeak, match=r"ru text.*speaks en, not ru"):
        async for _ in synth.stream("Здравствуйте, чем могу помочь?"):
            pass


async def test_english_text_skips_a_russian_only_engine(piper: PiperEngine) -> None:
    festival = FestivalEngine()  # never started: it is not suited to English
    synth = VoiceSynthesizer(VoiceProfile("anna", "ru", ("festival", "piper")),
                             EngineRegistry([festival, piper]))
    audio = await collect_audio(synth.stream("Thank you for calling."))
    assert audio.engine == "piper"
    assert festival.server.pid is None
    festival.close()


async def test_nothing_to_say_and_nothing_to_speak_with() -> None:
    synth = VoiceSynthesizer(VoiceProfile("anna", "ru", ("xtts", "piper", "festival")),
                             EngineRegistry())
    with pytest.raises(EmptyText):
        async for _ in synth.stream("  😀 "):
            pass
    with pytest.raises(NoEngineCanSpeak, match="xtts: not configured; piper: not configured"):
        async for _ in synth.stream("Привет"):
            pass


class InstalledXtts(XttsEngine):
    """XTTS as if coqui and the weights were present; must never get as far as loading."""

    def available(self) -> tuple[bool, str]:
        return True, ""

    def _load(self) -> None:
        raise AssertionError("a voice without samples must not reach the model")


async def test_xtts_without_samples_is_skipped_with_reason(tmp_path: Path) -> None:
    synth = VoiceSynthesizer(VoiceProfile("anna", "ru", ("xtts", "piper")),
                             EngineRegistry([InstalledXtts(tmp_path, device="cpu")]))
    with pytest.raises(NoEngineCanSpeak, match="'anna' has no samples to clone from"):
        async for _ in synth.stream("Привет"):
            pass


def test_create_engines_and_profile_piper_models(tmp_path: Path) -> None:
    registry = create_engines(TtsSettings(engines=("piper", "festival")))
    names = sorted(e.name for e in registry.engines())
    assert names == ["festival", "piper"]
    joe = registry.engines("piper")[0]
    assert isinstance(joe, PiperEngine) and joe.model_path == default_english_model()
    assert registry.engines("xtts") == []

    ru_model = tmp_path / "ru_RU-irina-medium.onnx"
    voice = VoiceProfile("anna", "ru", ("piper", "festival"), piper_models={"ru": ru_model})
    ru_candidates = registry.candidates("piper", voice, "ru")
    assert ru_candidates[0].model_path == ru_model.resolve()  # the profile's model first
    assert registry.candidates("piper", voice, "ru")[0] is ru_candidates[0]  # created once
    usable, skipped = VoiceSynthesizer(voice, registry).plan("ru")
    assert [e.name for e in usable] == ["festival"]
    assert any("ru_RU-irina-medium.onnx does not exist" in s for s in skipped)
    registry.close()

    with_xtts = create_engines(TtsSettings(engines=("xtts",), xtts_model_dir=tmp_path,
                                           xtts_device="cpu"))
    (xtts,) = with_xtts.engines()
    ok, why = xtts.available()
    assert not ok and "config.json" in why
