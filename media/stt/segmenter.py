"""A segment recogniser (Whisper) made to behave like a stream: frames go through a
TurnDetector, and a recognition pass starts in a worker thread as soon as the caller
pauses (SilenceStarted), so the final is ready soon after the turn ends instead of a full
pass later. If the caller speaks again, that pass is discarded (cancelled if it has not
started; its result ignored if it has).

UtteranceRecognizer is the synchronous core (push() never blocks on recognition; each
TurnEnded comes with a Future of its final Transcript). AsyncUtteranceRecognizer wraps it
for asyncio and delivers finals through an awaitable queue."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from media.stt.base import SegmentStt, Transcript
from media.turn import SilenceStarted, SpeechResumed, TurnDetector, TurnEnded, TurnEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalPending(TurnEvent):
    """The turn ended; `final` resolves to its Transcript (times in stream ms). `early`
    says the pass started at the pause rather than at the end of the turn."""

    turn: TurnEnded | None = None
    final: Future[Transcript] = field(default_factory=Future, repr=False, compare=False)
    early: bool = False


@dataclass
class _Pass:
    audio_len: int
    audio_start_ms: int
    future: Future[Transcript]
    cancel: threading.Event
    submitted: float  # perf_counter


class TurnRecognizer(ABC):
    """A TurnDetector whose events an engine adds to: push()/flush() return the
    detector's events, each followed by what `_on_event` adds for it (FinalPending after
    TurnEnded). Not thread-safe: push() from one thread (or task)."""

    detector: TurnDetector

    def push(self, frame: bytes) -> list[TurnEvent]:
        """Feed one frame; returns the detector's events plus FinalPending after
        TurnEnded."""
        self._feed(frame)
        return self._handle(self.detector.push(frame))

    def flush(self) -> list[TurnEvent]:
        """End a turn in progress now (end of stream)."""
        return self._handle(self.detector.flush())

    def _handle(self, events: list[TurnEvent]) -> list[TurnEvent]:
        out: list[TurnEvent] = []
        for event in events:
            out.append(event)
            out.extend(self._on_event(event))
        return out

    def _feed(self, frame: bytes) -> None:  # noqa: B027 - a streaming engine's hook
        """Every frame, before the detector sees it."""

    @abstractmethod
    def _on_event(self, event: TurnEvent) -> list[TurnEvent]:
        """React to one detector event; return events to report after it."""


class UtteranceRecognizer(TurnRecognizer):
    """TurnDetector + SegmentStt."""

    def __init__(self, detector: TurnDetector, stt: SegmentStt, *,
                 language: str | None = None, executor: Executor | None = None,
                 early_pass: bool = True) -> None:
        """executor: where passes run; share one single-thread executor between calls
        to keep STT from fighting itself for cores (default: one of our own).
        early_pass: False runs the pass only at TurnEnded (for comparison)."""
        self.detector = detector
        self.stt = stt
        self.language = language
        self.early_pass = early_pass
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1,
                                                        thread_name_prefix="stt")
        self._pass: _Pass | None = None
        self.discarded_passes = 0  # early passes made stale by resumed speech

    def _on_event(self, event: TurnEvent) -> list[TurnEvent]:
        if isinstance(event, SilenceStarted) and self.early_pass:
            self._discard()
            self._pass = self._submit(event.audio, event.start_ms)
        elif isinstance(event, SpeechResumed):
            self._discard()
        elif isinstance(event, TurnEnded):
            return [self._final(event)]
        return []

    def _submit(self, audio: bytes, audio_start_ms: int) -> _Pass:
        cancel = threading.Event()
        future = self._executor.submit(self.stt.transcribe, audio,
                                       self.detector.sample_rate, self.language,
                                       cancel=cancel)
        return _Pass(len(audio), audio_start_ms, future, cancel, time.perf_counter())

    def _discard(self) -> None:
        if self._pass is not None:
            self._abandon(self._pass)
            self._pass = None

    def _abandon(self, stale: _Pass) -> None:
        # a queued pass never runs; a running one stops at the engine's next stage
        # boundary (the worker is single, so a stale pass delays the next one)
        stale.future.cancel()
        stale.cancel.set()
        self.discarded_passes += 1

    def _final(self, turn: TurnEnded) -> FinalPending:
        early = self._pass
        self._pass = None
        reuse = (early is not None and early.audio_len == len(turn.audio)
                 and early.audio_start_ms == turn.audio_start_ms)
        if not reuse:
            if early is not None:
                self._abandon(early)
            early = self._submit(turn.audio, turn.audio_start_ms)
        assert early is not None
        final: Future[Transcript] = Future()

        def done(source: Future[Transcript]) -> None:
            if final.done():  # the consumer gave up on it
                return
            if source.cancelled():
                final.cancel()
            elif (exc := source.exception()) is not None:
                final.set_exception(exc)
            else:
                # the pass saw the audio from audio_start_ms; report the speech bounds
                result = source.result().shifted(turn.audio_start_ms)
                final.set_result(Transcript(result.text, True, turn.start_ms, turn.end_ms,
                                            result.language, result.confidence,
                                            result.words))

        early.future.add_done_callback(done)
        return FinalPending(at_ms=turn.end_ms, detected_ms=turn.detected_ms, turn=turn,
                            final=final, early=reuse)

    def reset(self) -> None:
        """New stream: drop any pass in flight and reset the detector."""
        self._discard()
        self.detector.reset()

    def close(self) -> None:
        self._discard()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)


class AsyncUtteranceRecognizer:
    """asyncio face of UtteranceRecognizer: push() stays synchronous (VAD work is
    microseconds), finals arrive on `await next_final()` / `async for t in finals()`
    in turn order, on the loop that created this object."""

    def __init__(self, recognizer: UtteranceRecognizer) -> None:
        self.recognizer = recognizer
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Transcript | BaseException] = asyncio.Queue()
        self._order: list[Future[Transcript]] = []  # finals not yet queued, turn order

    def push(self, frame: bytes) -> list[TurnEvent]:
        return self._watch(self.recognizer.push(frame))

    def flush(self) -> list[TurnEvent]:
        return self._watch(self.recognizer.flush())

    def _watch(self, events: list[TurnEvent]) -> list[TurnEvent]:
        for event in events:
            if isinstance(event, FinalPending):
                self._order.append(event.final)
                event.final.add_done_callback(
                    lambda _f: self._loop.call_soon_threadsafe(self._drain))
        return events

    def _drain(self) -> None:
        # deliver in turn order even if a later (shorter) pass finishes first
        while self._order and self._order[0].done():
            future = self._order.pop(0)
            if future.cancelled():
                continue
            exc = future.exception()
            self._queue.put_nowait(exc if exc is not None else future.result())

    async def next_final(self) -> Transcript:
        """The next turn's final transcript; re-raises a failed recognition."""
        item = await self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def finals(self) -> AsyncIterator[Transcript]:
        while True:
            yield await self.next_final()

    def close(self) -> None:
        self.recognizer.close()
