"""What the console borrows from the process it runs in: the brains (one per persona), the
TTS engines and voice library, and speech recognition.

The phone process starts the console before its models load, so a `ConsoleServices` starts
empty and is filled (`provide`) once they are; the console never loads a second copy of an
LLM. Whatever is missing makes `require_*` raise `ServiceUnavailable`, which the pages and
the API answer as 503 with a clear message. STT is the exception: Whisper loads on the first
transcription (in a thread), since the phone may use Vosk and most consoles never need it.
The Telegram bot manager, when the process runs one, is lent the same way (`telegram`),
and so are the phone's calls on lines Asterisk does not carry (`lines`: Twilio Media Streams).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from brain.conversation import Brain
from media.stt.base import SegmentStt, Transcript
from voices.base import EmptyText
from voices.chain import EngineRegistry, VoiceSynthesizer
from voices.profile import PROFILE_FILE, VoiceProfile, load_profile
from web.wav import wav_bytes

if TYPE_CHECKING:  # aiogram loads only where bots run
    from ari_app.line_call import LineCalls
    from channels.gsm.service import ConsoleGsm
    from channels.telegram.manager import BotManager

VOICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ServiceUnavailable(Exception):
    """A service the request needs is not (yet) there; the message says which and why."""


class UnknownName(LookupError):
    """No persona or voice of that name; the message lists those there are."""


class LazyStt:
    """A segment STT made and loaded on first use, then shared; one pass at a time, in a
    worker thread, so recognition never blocks the event loop or fights itself for cores."""

    def __init__(self, make: Callable[[], SegmentStt]) -> None:
        self._make = make
        self._engine: SegmentStt | None = None
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    async def transcribe(self, pcm16: bytes, sample_rate: int,
                         language: str | None = None) -> Transcript:
        async with self._lock:
            if self._engine is None:
                self._engine = await asyncio.to_thread(self._load)
            return await asyncio.to_thread(self._engine.transcribe, pcm16, sample_rate,
                                           language)

    def _load(self) -> SegmentStt:
        engine = self._make()
        engine.require_available()
        engine.load()
        return engine


class ConsoleServices:
    """The brains by persona key, the TTS engines with the voices folder, and STT; any may be
    absent. One per application (tests build their own)."""

    def __init__(self, *, brains: Mapping[str, Brain] | None = None,
                 tts: EngineRegistry | None = None, voices_dir: Path | None = None,
                 stt: LazyStt | None = None) -> None:
        self.brains: dict[str, Brain] = dict(brains or {})
        self.tts = tts
        self.voices_dir = voices_dir
        self.stt = stt
        self.telegram: BotManager | None = None
        self.lines: LineCalls | None = None  # runs calls on lines that are not Asterisk's
        self.gsm: ConsoleGsm | None = None  # the GSM line (our driver, or a channel driver's AMI)
        self.loading_reason = "the secretary is still loading its models"

    def provide(self, *, brains: Mapping[str, Brain] | None = None,
                tts: EngineRegistry | None = None, stt: LazyStt | None = None,
                voices_dir: Path | None = None, telegram: BotManager | None = None) -> None:
        """Hand over what the process has loaded (called after the console is already up)."""
        if telegram is not None:
            self.telegram = telegram
        if voices_dir is not None:
            self.voices_dir = voices_dir
        if brains is not None:
            self.brains = dict(brains)
        if tts is not None:
            self.tts = tts
        if stt is not None:
            self.stt = stt

    # ---- brains ----------------------------------------------------------------------

    def personas(self) -> list[str]:
        return sorted(self.brains)

    def require_brain(self, persona: str) -> Brain:
        if not self.brains:
            raise ServiceUnavailable(f"No persona can answer yet: {self.loading_reason}, "
                                     "or this process runs no secretary (echo/parrot mode).")
        brain = self.brains.get(persona)
        if brain is None:
            raise UnknownName(f"There is no persona {persona!r}; there are: "
                              f"{', '.join(self.personas())}.")
        return brain

    # ---- voices ----------------------------------------------------------------------

    def require_voices_dir(self) -> Path:
        if self.voices_dir is None or not self.voices_dir.is_dir():
            raise ServiceUnavailable("No voices folder is configured (tts.voices_dir).")
        return self.voices_dir

    def voice_names(self) -> list[str]:
        root = self.require_voices_dir()
        return sorted(p.name for p in root.iterdir()
                      if p.is_dir() and (p / PROFILE_FILE).is_file() and VOICE_NAME.match(p.name))

    def voice_folder(self, name: str) -> Path:
        """The folder of an existing voice; `UnknownName` for anything else (the name never
        reaches the file system unchecked)."""
        names = self.voice_names()
        if name not in names:
            raise UnknownName(f"There is no voice {name!r}; there are: {', '.join(names)}.")
        return self.require_voices_dir() / name

    def load_voice(self, name: str) -> VoiceProfile:
        return load_profile(self.voice_folder(name))

    def require_voice(self, name: str) -> VoiceSynthesizer:
        profile = self.load_voice(name)  # read afresh: samples may have been uploaded
        if self.tts is None:
            raise ServiceUnavailable(f"Speech synthesis is not available: "
                                     f"{self.loading_reason}.")
        return VoiceSynthesizer(profile, self.tts)

    # ---- Telegram ----------------------------------------------------------------------

    def require_telegram(self) -> BotManager:
        if self.telegram is None:
            raise ServiceUnavailable("No Telegram bots run in this process (they start with "
                                     "the secretary; telegram.enabled may be off).")
        return self.telegram

    # ---- speech recognition ----------------------------------------------------------

    def require_stt(self) -> LazyStt:
        if self.stt is None:
            raise ServiceUnavailable("Speech recognition is not available in this process.")
        return self.stt


async def synthesize_wav(voice: VoiceSynthesizer, text: str) -> bytes:
    """The whole of `text` in `voice`, as one WAV file. Raises the voices' TtsError."""
    pcm = bytearray()
    rate = 0
    async for chunk in voice.stream(text):
        rate = rate or chunk.sample_rate  # one engine speaks a phrase: one rate
        pcm += chunk.pcm16
    if not pcm:
        raise EmptyText("the voice produced no audio for this text")
    return wav_bytes(bytes(pcm), rate)
