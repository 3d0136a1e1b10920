"""Builds the speech engines (STT, VAD + end of turn, TTS voices) from the settings.

The one place where settings turn into engine objects, so `media/` and `voices/`
never read configuration themselves. Models load lazily or on `warm_up`.
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path

from media import models
from media.stt.base import SegmentStt
from media.stt.segmenter import AsyncUtteranceRecognizer, UtteranceRecognizer
from media.stt.whisper import FasterWhisperStt
from media.turn import TurnDetector
from media.vad import create_vad
from secretary.settings import Settings
from voices.chain import EngineRegistry, VoiceSynthesizer, create_engines
from voices.chain import TtsSettings as VoicesTtsSettings
from voices.profile import load_profile

LINE_RATE = 8000


class SpeechConfigError(ValueError):
    """The settings ask for a speech set-up that cannot work."""


def whisper_model_dir(settings: Settings) -> Path:
    """The configured Whisper model, or Whisper base joined from its PyPI parts."""
    if settings.stt.whisper_model_dir is not None:
        return settings.stt.whisper_model_dir
    return models.whisper_base_dir(settings.models_dir / "whisper-base")


def build_segment_stt(settings: Settings) -> SegmentStt:
    if settings.stt.engine != "whisper":
        raise SpeechConfigError(
            f"stt.engine={settings.stt.engine!r} is a streaming engine; turn-by-turn "
            "recognition on calls uses Whisper (stt.engine=whisper)"
        )
    return FasterWhisperStt(
        whisper_model_dir(settings),
        device=settings.stt.device,
        compute_type=settings.stt.compute_type,
        language=settings.stt.language,
        cpu_threads=settings.stt.cpu_threads,
        detect_languages=("ru", "en"),
    )


def build_turn_detector(settings: Settings, sample_rate: int = LINE_RATE) -> TurnDetector:
    options = {"aggressiveness": settings.stt.vad_aggressiveness}
    vad = create_vad(settings.stt.vad, sample_rate, **(options if settings.stt.vad == "webrtc"
                                                      else {}))
    return TurnDetector(vad, hangover_ms=settings.stt.hangover_ms)


def recognizer_factory(settings: Settings, stt: SegmentStt, executor: Executor):
    """A function making one call's recogniser; all calls share the model and one
    STT thread, so recognition passes never fight each other for the two cores."""

    def make() -> AsyncUtteranceRecognizer:
        detector = build_turn_detector(settings)
        core = UtteranceRecognizer(detector, stt, language=settings.stt.language,
                                   executor=executor)
        return AsyncUtteranceRecognizer(core)

    return make


def build_tts(settings: Settings) -> EngineRegistry:
    return create_engines(
        VoicesTtsSettings(
            xtts_model_dir=settings.tts.xtts_model_dir,
            xtts_device=settings.tts.xtts_device,
            xtts_cache_dir=settings.models_dir / "xtts-latents",
            piper_models=dict(settings.tts.piper_models),
            festival_binary=settings.tts.festival_binary,
        )
    )


def build_voice(settings: Settings, engines: EngineRegistry, name: str) -> VoiceSynthesizer:
    return VoiceSynthesizer(load_profile(settings.tts.voices_dir / name), engines)
