"""Builds the speech engines (STT, VAD + end of turn, TTS voices) from the settings.

The one place where settings turn into engine objects, so `media/` and `voices/`
never read configuration themselves. Models load lazily or on `warm_up`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from media import models
from media.stt.base import SegmentStt
from media.stt.segmenter import AsyncUtteranceRecognizer, UtteranceRecognizer
from media.stt.streaming import StreamingUtteranceRecognizer
from media.stt.vosk import VoskStreamingStt
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


def whisper_model_name(settings: Settings) -> str:
    """The embedded Whisper model the settings pick ("base" or "tiny.en")."""
    stt = settings.stt
    if stt.whisper_model != "auto":
        if stt.whisper_model == "tiny.en" and stt.language not in (None, "en"):
            raise SpeechConfigError(f"Whisper tiny.en is English-only; stt.language is "
                                    f"{stt.language!r}")
        return stt.whisper_model
    return "tiny.en" if stt.language == "en" else "base"


def whisper_model_dir(settings: Settings) -> Path:
    """The configured Whisper model: stt.whisper_model_dir, else the embedded one
    (`whisper_model_name`) from its PyPI package(s)."""
    if settings.stt.whisper_model_dir is not None:
        return settings.stt.whisper_model_dir
    if whisper_model_name(settings) == "tiny.en":
        return models.whisper_tiny_en_dir()
    return models.whisper_base_dir(settings.models_dir / "whisper-base")


def build_segment_stt(settings: Settings) -> SegmentStt:
    """Whisper, whatever stt.engine says: whole-file recognition (`secretary hear`) and
    turn-by-turn recognition with stt.engine=whisper both use it."""
    tiny = settings.stt.whisper_model_dir is None and whisper_model_name(settings) == "tiny.en"
    return FasterWhisperStt(
        whisper_model_dir(settings),
        # tiny.en repeats itself in windows much shorter than 15 s (bench/speech_stt)
        window_s=15.0 if tiny else 10.0,
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


def build_streaming_stt(settings: Settings) -> VoskStreamingStt:
    if settings.stt.vosk_model_dir is None:
        raise SpeechConfigError(
            "stt.engine=vosk needs stt.vosk_model_dir (e.g. a provisioned vosk-model-ru-0.42)"
        )
    return VoskStreamingStt(settings.stt.vosk_model_dir, LINE_RATE,
                            language=settings.stt.language)


def recognizer_factory(settings: Settings) -> Callable[[], AsyncUtteranceRecognizer]:
    """Load the configured engine (blocking: run it in a thread) and return a function
    making one call's recogniser.

    Whisper: all calls share the model and one STT thread, so passes never fight each
    other for the cores. Vosk: all calls share the model; each call decodes its own
    stream on its own thread, as it arrives."""
    if settings.stt.engine == "vosk":
        vosk = build_streaming_stt(settings)
        vosk.require_available()
        vosk.load()

        def make_streaming() -> AsyncUtteranceRecognizer:
            return AsyncUtteranceRecognizer(
                StreamingUtteranceRecognizer(build_turn_detector(settings), vosk.session())
            )

        return make_streaming

    whisper = build_segment_stt(settings)
    whisper.require_available()
    whisper.load()
    # The first inference pays for CTranslate2's one-off set-up (allocations, kernels): do
    # it now on a second of faint noise, not inside the first caller's turn.
    noise = np.random.default_rng(0).normal(0, 300, LINE_RATE).astype("<i2").tobytes()
    whisper.transcribe(noise, LINE_RATE, "en")
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")

    def make() -> AsyncUtteranceRecognizer:
        core = UtteranceRecognizer(build_turn_detector(settings), whisper,
                                   language=settings.stt.language, executor=executor)
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
