"""The one TTS interface: what an engine is (`TtsEngine`), what it yields (`AudioChunk`), the
errors the rest of the system can rely on, and the helper that runs a blocking synthesizer in a
worker thread so the event loop keeps pacing RTP frames while a model computes.

Engines plug in by subclassing `TtsEngine` (see piper.py, festival.py, xtts.py); the fallback
chain (chain.py) only ever talks to this interface."""

from __future__ import annotations

import abc
import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

import numpy as np

if TYPE_CHECKING:
    from voices.profile import VoiceProfile

log = logging.getLogger(__name__)

T = TypeVar("T")


class TtsError(Exception):
    """Speech could not be produced; the message says why in words an operator can act on."""


class EngineUnavailable(TtsError):
    """The engine cannot run here: a package, model file or program is missing."""


class EmptyText(TtsError):
    """Nothing speakable is left once markup, emoji and control characters are removed."""


class UnsupportedLanguage(TtsError):
    """The text is in a language (script) no configured voice speaks."""


class NoEngineCanSpeak(TtsError):
    """Every engine in a voice's order was missing, unsuited or failed before any audio."""


class SynthesisInterrupted(TtsError):
    """An engine failed after some audio was already delivered. Nothing is retried, so the
    caller never hears a phrase twice; `delivered_text` is what was fully spoken."""

    def __init__(self, message: str, delivered_text: str = "") -> None:
        super().__init__(message)
        self.delivered_text = delivered_text


@dataclass(slots=True)
class AudioChunk:
    """A piece of synthesized speech: native-endian signed 16-bit mono PCM at `sample_rate`.

    `text` is the clause this audio belongs to and `engine` the engine that made it; both are
    informational (barge-in bookkeeping, logs) and may be empty."""

    pcm16: bytes
    sample_rate: int
    text: str = ""
    engine: str = ""

    @property
    def samples(self) -> int:
        return len(self.pcm16) // 2

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate if self.sample_rate else 0.0


def float_to_pcm16(audio: np.ndarray, gain: float = 1.0) -> bytes:
    """Float audio in [-1, 1] to pcm16 bytes, clipping rather than wrapping around."""
    scaled = np.asarray(audio, dtype=np.float32).reshape(-1) * (32767.0 * gain)
    return np.clip(scaled, -32768.0, 32767.0).astype(np.int16).tobytes()


class TtsEngine(abc.ABC):
    """One speech synthesizer. Implementations load their model once (in `warm_up` or on first
    use), never block the event loop, and raise `TtsError` subclasses with a clear message."""

    name: ClassVar[str] = "engine"

    @property
    def languages(self) -> frozenset[str]:
        """Languages (ISO 639-1, "ru", "en") this engine can speak as configured."""
        return frozenset()

    @abc.abstractmethod
    def available(self) -> tuple[bool, str]:
        """(True, "") when the engine can run here, else (False, reason). Cheap: no model load."""

    def suits(self, voice: VoiceProfile, language: str) -> tuple[bool, str]:
        """Whether this engine can speak `language` for `voice`; (False, reason) otherwise."""
        if language not in self.languages:
            spoken = ", ".join(sorted(self.languages)) or "nothing"
            return False, f"{self.describe()} speaks {spoken}, not {language}"
        return True, ""

    def describe(self) -> str:
        """A short label for logs and error messages."""
        return self.name

    @abc.abstractmethod
    def stream(self, text: str, voice: VoiceProfile) -> AsyncIterator[AudioChunk]:
        """Speak `text` as `voice`, yielding audio as soon as each piece is ready.

        Implemented as an `async def` generator. Raises `TtsError` on failure."""

    async def warm_up(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Load models / start helper processes now rather than on the first phrase."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release processes and memory. The engine may be warmed up again later."""


_END = object()


async def iterate_in_thread(make_iter: Callable[[], Iterator[T]], *,
                            lookahead: int = 1) -> AsyncIterator[T]:
    """Run a blocking iterator in a worker thread and yield its items on the event loop.

    The thread keeps at most `lookahead` finished items waiting, so it synthesizes the next
    clause while the current one plays but does not run far ahead of a caller who may barge in.
    When the consumer stops early (closes the generator), the thread stops after the item it is
    computing. Exceptions from the iterator are re-raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue(max(1, lookahead))
    stop = threading.Event()

    def put(item: object, error: BaseException | None = None) -> bool:
        try:
            fut = asyncio.run_coroutine_threadsafe(queue.put((item, error)), loop)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        while True:
            try:
                fut.result(timeout=0.25)
                return True
            except TimeoutError:
                if stop.is_set():
                    fut.cancel()
                    return False

    def run() -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = make_iter()
            for item in iterator:
                if stop.is_set() or not put(item) or stop.is_set():
                    return
        except BaseException as exc:  # delivered to the consumer, which re-raises it
            put(_END, exc)
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # a generator's `with` blocks (locks) unwind here, now
                close()
        put(_END)

    worker = loop.run_in_executor(None, run)
    try:
        while True:
            item, error = await queue.get()
            if error is not None:
                raise error
            if item is _END:
                break
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while not queue.empty():  # unblock a put in flight so the thread can notice `stop`
            queue.get_nowait()
        if worker.done() and not worker.cancelled():
            worker.exception()  # retrieve, so asyncio does not log it as never retrieved


async def collect_audio(chunks: AsyncIterator[AudioChunk]) -> AudioChunk:
    """All of a stream's audio as one chunk (CLI `say`, tests). One stream comes from one
    engine, so its chunks share a sample rate; a mix is an error rather than garbled audio."""
    parts: list[bytes] = []
    rate = 0
    texts: list[str] = []
    engine = ""
    async for chunk in chunks:
        if rate and chunk.sample_rate != rate:
            raise TtsError(f"stream changed sample rate from {rate} to {chunk.sample_rate} Hz")
        rate = chunk.sample_rate
        engine = engine or chunk.engine
        parts.append(chunk.pcm16)
        if chunk.text and (not texts or texts[-1] != chunk.text):
            texts.append(chunk.text)
    return AudioChunk(b"".join(parts), rate, " ".join(texts), engine)
