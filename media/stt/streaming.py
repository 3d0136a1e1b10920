"""A streaming recogniser (Vosk) driven turn by turn, with the same contract as
UtteranceRecognizer: push() returns the TurnDetector's events plus a FinalPending whose
future resolves to the turn's final transcript, so AsyncUtteranceRecognizer and the call
code work with either kind of engine.

Every frame goes to the engine as it arrives (that is what makes the final quick: the
engine has decoded the turn by the time it ends), but on a worker thread: decoding costs
about real time on a small CPU and must never hold up the 20 ms media clock. The single
worker keeps frames and finish() in order.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor

from media.stt.base import StreamingStt, Transcript
from media.stt.segmenter import FinalPending, TurnRecognizer
from media.turn import TurnDetector, TurnEnded, TurnEvent


class StreamingUtteranceRecognizer(TurnRecognizer):
    """TurnDetector + StreamingStt."""

    def __init__(self, detector: TurnDetector, stt: StreamingStt, *,
                 executor: Executor | None = None) -> None:
        self.detector = detector
        self.stt = stt
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=1,
                                                        thread_name_prefix="stt-stream")

    def _feed(self, frame: bytes) -> None:
        self._executor.submit(self.stt.accept, frame)

    def _on_event(self, event: TurnEvent) -> list[TurnEvent]:
        return [self._final(event)] if isinstance(event, TurnEnded) else []

    def _final(self, turn: TurnEnded) -> FinalPending:
        final: Future[Transcript] = Future()

        def finish() -> None:
            try:
                result = self.stt.finish()
            except BaseException as exc:
                final.set_exception(exc)
                return
            final.set_result(Transcript(result.text, True, turn.start_ms, turn.end_ms,
                                        result.language, result.confidence, result.words))

        self._executor.submit(finish)
        return FinalPending(at_ms=turn.end_ms, detected_ms=turn.detected_ms, turn=turn,
                            final=final, early=False)

    def reset(self) -> None:
        self.detector.reset()
        self._executor.submit(self.stt.reset)

    def close(self) -> None:
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
