"""What the secretary does with a connected call's audio, once the plumbing is up.

`CallSession` owns the telephony (answer, bridge, externalMedia, teardown); a
behaviour owns the conversation on the call's `CallMedia`:

- `EchoBehaviour`: greeting, then the caller hears itself (proves both media directions);
- `ParrotBehaviour`: greeting, then each caller turn is recognised (VAD + end of turn +
  STT) and said back in the persona's voice, with barge-in (hearing and speaking, end
  to end; the brain replaces "say it back" in the next step).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from media.call_media import CallMedia
from media.echo import attach_echo
from media.stt.base import Transcript
from media.stt.segmenter import AsyncUtteranceRecognizer
from media.turn import SpeechStarted
from voices.base import TtsError
from voices.chain import VoiceSynthesizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Greeting:
    """Audio played when the call is answered."""

    pcm16: bytes
    sample_rate: int


def load_wav(path: Path) -> Greeting | None:
    """A prerecorded prompt (16-bit mono PCM WAV, any rate), or None when the file is absent."""
    if not path.exists():
        return None
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: prompts must be 16-bit mono PCM WAV")
        return Greeting(wav.readframes(wav.getnframes()), wav.getframerate())


class CallBehaviour(Protocol):
    async def run(self, media: CallMedia, call: Any) -> None:
        """Talk on `media` until cancelled (the call ended) or done (hang up). `call` is
        the `CallControl` of the call (transfer, DTMF, caller ID)."""


def play_greeting(media: CallMedia, greeting: Greeting | None) -> None:
    if greeting is not None:
        media.play(greeting.pcm16, greeting.sample_rate)
        media.finish_play()


class EchoBehaviour:
    def __init__(self, greeting: Greeting | None) -> None:
        self.greeting = greeting

    async def run(self, media: CallMedia, call: Any = None) -> None:
        play_greeting(media, self.greeting)

        def echo_once_greeted(pcm16: bytes) -> None:
            # The caller hears itself from the tick the greeting has drained.
            if media.playout.is_idle:
                attach_echo(media)(pcm16)

        media.on_audio = echo_once_greeted
        await asyncio.Event().wait()  # until the call is over (cancelled)


REPLY_PREFIX = {"ru": "Вы сказали: ", "en": "You said: "}


class ParrotBehaviour:
    """Hear a turn, say it back. Barge-in: caller speech onset drops queued audio at once."""

    def __init__(
        self,
        greeting: Greeting | None,
        recognizer_factory: Callable[[], AsyncUtteranceRecognizer],
        voice: VoiceSynthesizer,
        apology: Greeting | None = None,
    ) -> None:
        self.greeting = greeting
        self.recognizer_factory = recognizer_factory
        self.voice = voice
        self.apology = apology

    async def run(self, media: CallMedia, call: Any = None) -> None:
        recognizer = self.recognizer_factory()
        speaking: asyncio.Task[None] | None = None

        def hear(pcm16: bytes) -> None:
            for event in recognizer.push(pcm16):
                if not isinstance(event, SpeechStarted):
                    continue
                still_synthesising = speaking is not None and not speaking.done()
                if still_synthesising or not media.playout.is_idle:
                    # Barge-in: the caller talks over us; stop at once, say nothing more.
                    if speaking is not None:
                        speaking.cancel()
                    dropped_ms = media.clear_playout() * 1000 // media.sample_rate
                    log.info("barge-in: dropped %d ms of queued audio", dropped_ms)

        play_greeting(media, self.greeting)
        media.on_audio = hear
        try:
            async for transcript in recognizer.finals():
                if not transcript.text.strip():
                    continue
                log.info("heard (%s): %s", transcript.language, transcript.text)
                if speaking is not None:
                    speaking.cancel()
                speaking = asyncio.create_task(self._say_back(media, transcript))
        finally:
            media.on_audio = None
            if speaking is not None:
                speaking.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await speaking
            recognizer.close()

    async def _say_back(self, media: CallMedia, transcript: Transcript) -> None:
        prefix = REPLY_PREFIX.get(transcript.language or "", REPLY_PREFIX["en"])
        try:
            async for chunk in self.voice.stream(prefix + transcript.text):
                media.play(chunk.pcm16, chunk.sample_rate)
            media.finish_play()
        except TtsError as exc:
            # No engine could speak: the caller hears the persona's recorded apology.
            log.error("could not say the reply: %s", exc)
            play_greeting(media, self.apology)
