"""Voices: TTS engines behind one interface and voice profiles (samples, cached speaker latents).

    base.py      AudioChunk, TtsEngine, errors, running blocking synthesis off the event loop
    text.py      cleaning, capping and cutting text into speakable pieces; ru/en detection
    presets.py   intonation presets (warm, calm, energetic, natural, neutral) per engine
    profile.py   VoiceProfile from voices/<name>/profile.yaml and the folder's WAV samples
    piper.py     Piper (piper-tts) engine; English default voice joe
    festival.py  Festival server engine: the offline Russian CPU fallback
    xtts.py      XTTS v2 (coqui-tts) cloning engine and its speaker latent cache
    chain.py     engine registry from settings and the per-voice fallback synthesizer

Voice data folders (voices/anna, voices/marina) sit beside the code. Imports only media/."""

from voices.base import (
    AudioChunk,
    EmptyText,
    EngineUnavailable,
    NoEngineCanSpeak,
    SynthesisInterrupted,
    TtsEngine,
    TtsError,
    UnsupportedLanguage,
    collect_audio,
)
from voices.chain import (
    EngineRegistry,
    FallbackTts,
    TtsSettings,
    VoiceSynthesizer,
    create_engines,
)
from voices.profile import ProfileError, VoiceProfile, load_profile, load_profiles

__all__ = [
    "AudioChunk",
    "EmptyText",
    "EngineRegistry",
    "EngineUnavailable",
    "FallbackTts",
    "NoEngineCanSpeak",
    "ProfileError",
    "SynthesisInterrupted",
    "TtsEngine",
    "TtsError",
    "TtsSettings",
    "UnsupportedLanguage",
    "VoiceProfile",
    "VoiceSynthesizer",
    "collect_audio",
    "create_engines",
    "load_profile",
    "load_profiles",
]
