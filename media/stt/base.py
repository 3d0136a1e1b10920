"""The STT interface: result types and the two kinds of engine.

- StreamingStt: a session fed 20 ms frames, answering partials as it goes and a final on
  finish() (Vosk).
- SegmentStt: one call per complete utterance cut by the VAD (Whisper); see
  media.stt.segmenter for making it behave like a stream.

Every engine reports available() -> (ok, reason) without loading anything, so a missing
model is a clear message rather than a crash; using one that is unavailable raises
SttUnavailable with the same reason."""

from __future__ import annotations

import importlib.util
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path


class SttError(RuntimeError):
    """Recognition failed."""


class SttUnavailable(SttError):
    """The engine cannot run here (model or package missing); the message says why."""


class SttCancelled(SttError):
    """A pass was abandoned through its cancel event (its result was no longer wanted)."""


def check_model_dir(
    module: str, pypi_name: str, model_dir: Path, required: Iterable[str], kind: str
) -> tuple[bool, str]:
    """(ok, reason) for an engine whose Python package is `module` and whose model is a
    directory holding `required` files; loads nothing."""
    if importlib.util.find_spec(module) is None:
        return False, f"the {pypi_name} package is not installed"
    if not model_dir.is_dir():
        return False, f"{kind} model directory {model_dir} does not exist"
    missing = [name for name in required if not (model_dir / name).is_file()]
    if missing:
        return False, f"{kind} model directory {model_dir} lacks {', '.join(missing)}"
    return True, ""


@dataclass(frozen=True)
class Word:
    text: str
    start_ms: int
    end_ms: int
    confidence: float | None = None


@dataclass(frozen=True)
class Transcript:
    """Recognised text. Times are ms: of stream time for streaming sessions and
    UtteranceRecognizer, of the given buffer for SegmentStt.transcribe."""

    text: str
    is_final: bool
    start_ms: int
    end_ms: int
    language: str | None = None
    confidence: float | None = None  # engine-specific, 0..1 where known
    words: tuple[Word, ...] = field(default=())

    def shifted(self, offset_ms: int) -> Transcript:
        """The same result with every time moved by offset_ms."""
        return replace(
            self, start_ms=self.start_ms + offset_ms, end_ms=self.end_ms + offset_ms,
            words=tuple(replace(w, start_ms=w.start_ms + offset_ms,
                                end_ms=w.end_ms + offset_ms) for w in self.words))


class SttEngine(ABC):
    """What both kinds share."""

    name: str = ""

    @abstractmethod
    def available(self) -> tuple[bool, str]:
        """(True, "") if the engine can run, else (False, why) - without loading it."""

    def require_available(self) -> None:
        ok, reason = self.available()
        if not ok:
            raise SttUnavailable(f"{self.name} STT unavailable: {reason}")

    def load(self) -> None:  # noqa: B027 - optional hook; engines load lazily otherwise
        """Load the model now rather than on first use (e.g. at process start)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the model."""


class StreamingStt(SttEngine):
    """One recognition session at a time over a stream of pcm16 frames."""

    sample_rate: int

    @abstractmethod
    def accept(self, frame: bytes) -> list[Transcript]:
        """Feed pcm16 at sample_rate (any length, 20 ms frames normally); returns the
        partial results (is_final=False) this audio produced, possibly none."""

    @abstractmethod
    def finish(self) -> Transcript:
        """End the utterance: the final result for all audio since the last
        finish()/reset(). The session then continues with the next utterance."""

    @abstractmethod
    def reset(self) -> None:
        """Drop the current utterance without a result."""


class SegmentStt(SttEngine):
    """Whole-utterance recognition."""

    @abstractmethod
    def transcribe(self, pcm16: bytes, sample_rate: int, language: str | None = None, *,
                   cancel: threading.Event | None = None) -> Transcript:
        """Recognise one utterance; the result is final with times relative to the
        buffer. `language` (ISO 639-1, e.g. "ru", "en") overrides the engine default;
        None lets a multilingual engine detect it. Empty or silent audio gives "".
        `cancel`, once set, lets the engine stop between stages with SttCancelled (a
        speculative pass overtaken by more speech); engines may ignore it."""
