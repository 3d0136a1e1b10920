"""Real services for console tests: brains over the test database (FAQ only, or an LLM
behind the local OpenAI stub), Piper's bundled English voice, and Whisper tiny.en."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from brain.conversation import Brain, BrainOptions
from brain.llm import ChainStep, ChatModel, LiteLlmModel, LlmChain
from brain.persona import load_persona
from brain.store import Store
from media.models import whisper_tiny_en_dir
from media.stt import FasterWhisperStt
from secretary.settings import PROJECT_ROOT
from tests.openai_stub import OpenAIStub
from voices.chain import EngineRegistry, TtsSettings, create_engines
from web.services import ConsoleServices, LazyStt

PERSONAS = PROJECT_ROOT / "brain" / "personas"
VOICES = PROJECT_ROOT / "voices"
MONDAY_MORNING = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # the clinic is open


def stub_llm(stub: OpenAIStub) -> LlmChain:
    model = LiteLlmModel("openai/stub", api_base=stub.base_url, api_key="x", name="stub")
    return LlmChain([ChainStep(model, first_token_timeout_s=5, total_timeout_s=10)])


def brains(store: Store, llm: ChatModel | None = None) -> dict[str, Brain]:
    return {key: Brain(load_persona(PERSONAS, key), store, llm, BrainOptions(),
                       now=lambda: MONDAY_MORNING) for key in ("anna", "marina")}


def voices_copy(tmp_path: Path) -> Path:
    """The shipped voice profiles (without samples), in a folder the test may write to."""
    target = tmp_path / "voices"
    for name in ("anna", "marina"):
        (target / name).mkdir(parents=True)
        shutil.copy(VOICES / name / "profile.yaml", target / name / "profile.yaml")
    return target


def piper_engines() -> EngineRegistry:
    return create_engines(TtsSettings(engines=("piper",)))


def whisper_tiny_en() -> FasterWhisperStt:
    return FasterWhisperStt(whisper_tiny_en_dir(), language="en", window_s=15.0, cpu_threads=2)


def provide(services: ConsoleServices, store: Store, tmp_path: Path, *,
            llm: ChatModel | None = None, tts: EngineRegistry | None = None,
            stt: FasterWhisperStt | None = None) -> None:
    """What the phone process does once its models are loaded."""
    services.provide(brains=brains(store, llm), tts=tts, voices_dir=voices_copy(tmp_path),
                     stt=LazyStt(lambda: stt) if stt is not None else None)
