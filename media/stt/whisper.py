"""Whisper through faster-whisper / CTranslate2 as a SegmentStt: one call per utterance.

Short utterances take a faster path than faster-whisper's own transcribe(): that always
pads the encoder input to 30 s, which dominates the time on a 2-3 s question (FINDINGS
§7). Here an utterance that fits in `window_s` (default 10 s) is encoded in a window of
that length and decoded once without timestamps, straight through the CTranslate2 model
faster-whisper loaded. Windows near the audio length make Whisper repeat itself, so the
window stays fixed, and a result that looks like a loop (high compression ratio or the
token budget used up) is redone by the stock 30 s path, as is any longer utterance. The
short window also, rarely, ends a decode early ("Where" for a clear "Where are you
located?", "how much" for "How much does a cleaning cost?", both seen on calls): a result
unsure of itself (below `redo_below_confidence`) or too short for its audio (under
`redo_below_chars_per_s`) is checked on the stock path, and the surer of the two kept.

Models load from local directories only (never the hub); see media.models for the ones
PyPI packages ship."""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from media.resample import resample_all
from media.stt.base import (
    SegmentStt,
    SttCancelled,
    SttError,
    SttUnavailable,
    Transcript,
    check_model_dir,
)

log = logging.getLogger(__name__)

WHISPER_RATE = 16000
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")  # tokenizer: else hub lookup
_MAX_TOKENS = 448  # Whisper's text context


class FasterWhisperStt(SegmentStt):
    name = "faster-whisper"

    def __init__(self, model_dir: str | Path, *, device: str = "cpu",
                 compute_type: str = "int8", beam_size: int = 1,
                 language: str | None = None, window_s: float = 10.0,
                 cpu_threads: int = 2, num_workers: int = 1,
                 detect_languages: tuple[str, ...] | None = None,
                 no_speech_threshold: float = 0.6, log_prob_threshold: float = -1.0,
                 compression_ratio_threshold: float = 2.4,
                 redo_below_confidence: float = 0.4, redo_below_chars_per_s: float = 6.0,
                 silence_peak: int = 64, min_audio_ms: int = 100) -> None:
        """window_s: encoder window for short utterances (0 = always the stock 30 s path).
        detect_languages: when language is None, pick the likeliest of these (e.g.
        ("ru", "en") on a Russian/English line) instead of any of Whisper's 99.
        silence_peak: audio whose |sample| never exceeds this is silence (no model run);
        min_audio_ms: shorter audio holds no words, so it gives "" without a model run.
        redo_below_confidence: a windowed result less sure than this (mean token
        probability) is checked on the stock path; correct short answers measured 0.45-0.95
        on 8 kHz µ-law, an early-ended decode 0.24 (but another 0.57).
        redo_below_chars_per_s: text per second of the audio given (a turn: its speech
        plus ~0.5 s of pre-roll and hangover); speech runs at 12-15 characters a second,
        the early-ended decodes above came to 3.7 and 4.6."""
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if not 0 <= window_s <= 30:
            raise ValueError(f"window_s must be within 0..30, got {window_s}")
        self.model_dir = Path(model_dir)
        self.device = device
        self.compute_type = compute_type
        self.beam_size = beam_size
        self.language = language
        self.window_s = window_s
        self.cpu_threads = cpu_threads
        self.num_workers = num_workers
        self.detect_languages = detect_languages
        self.no_speech_threshold = no_speech_threshold
        self.log_prob_threshold = log_prob_threshold
        self.compression_ratio_threshold = compression_ratio_threshold
        self.redo_below_confidence = redo_below_confidence
        self.redo_below_chars_per_s = redo_below_chars_per_s
        self.silence_peak = silence_peak
        self.min_audio_ms = min_audio_ms
        self._model: Any = None  # faster_whisper.WhisperModel once loaded
        self._load_lock = threading.Lock()
        self.load_seconds: float | None = None

    # -- availability and loading ---------------------------------------------------

    def available(self) -> tuple[bool, str]:
        return check_model_dir("faster_whisper", "faster-whisper", self.model_dir,
                               _MODEL_FILES, "Whisper")

    def load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            self.require_available()
            from faster_whisper import WhisperModel

            started = time.perf_counter()
            try:
                self._model = WhisperModel(
                    str(self.model_dir), device=self.device, compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads, num_workers=self.num_workers,
                    local_files_only=True)
            except (RuntimeError, ValueError, OSError) as exc:
                raise SttUnavailable(f"{self.name} failed to load {self.model_dir}: "
                                     f"{exc}") from exc
            self.load_seconds = time.perf_counter() - started
            log.info("loaded Whisper %s (%s, %s) in %.2f s", self.model_dir,
                     self.device, self.compute_type, self.load_seconds)

    def close(self) -> None:
        with self._load_lock:
            self._model = None

    @property
    def multilingual(self) -> bool:
        self.load()
        return bool(self._model.model.is_multilingual)

    # -- recognition -------------------------------------------------------------------

    def transcribe(self, pcm16: bytes, sample_rate: int, language: str | None = None, *,
                   cancel: threading.Event | None = None) -> Transcript:
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        self.load()
        language = self._check_language(language or self.language)
        samples = np.frombuffer(pcm16, dtype=np.int16, count=len(pcm16) // 2)
        duration_ms = len(samples) * 1000 // sample_rate
        if (duration_ms < self.min_audio_ms
                or int(np.abs(samples.astype(np.int32)).max()) <= self.silence_peak):
            return Transcript("", True, 0, duration_ms, language, None)
        audio16k = np.frombuffer(resample_all(samples.tobytes(), sample_rate, WHISPER_RATE),
                                 dtype=np.int16).astype(np.float32) / 32768.0
        try:
            result = None
            if len(audio16k) < self.window_s * WHISPER_RATE:
                result = self._windowed(audio16k, language, duration_ms, cancel)
                if result is not None and self._doubtful(result, duration_ms):
                    _check(cancel)
                    stock = self._stock(audio16k, language, duration_ms)
                    log.info("unsure windowed Whisper pass (%.2f, %r); stock pass: %.2f, %r",
                             result.confidence or 0.0, result.text[:40],
                             stock.confidence or 0.0, stock.text[:40])
                    if (stock.confidence or 0.0) >= (result.confidence or 0.0):
                        result = stock
            if result is None:
                _check(cancel)
                result = self._stock(audio16k, language, duration_ms)
        except (RuntimeError, ValueError) as exc:
            raise SttError(f"{self.name} failed on {duration_ms} ms of audio: {exc}") from exc
        return result

    def _doubtful(self, result: Transcript, duration_ms: int) -> bool:
        """A windowed result that may have ended early (see the module's docstring)."""
        if not result.text:
            return False
        chars_per_s = len(result.text) * 1000 / max(duration_ms, 1)
        return ((result.confidence or 0.0) < self.redo_below_confidence
                or chars_per_s < self.redo_below_chars_per_s)

    def _check_language(self, language: str | None) -> str | None:
        if language is None:
            return None
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        if not self.multilingual and language != "en":
            raise SttError(f"{self.model_dir.name} is an English-only Whisper model; "
                           f"it cannot transcribe language {language!r}")
        if language not in _LANGUAGE_CODES:
            raise SttError(f"Whisper does not know the language {language!r}")
        return language

    def _windowed(self, audio: np.ndarray, language: str | None, duration_ms: int,
                  cancel: threading.Event | None) -> Transcript | None:
        """One encoder pass over a window_s window, one decode; None asks for the stock
        path (the decode looked like a repetition loop)."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

        model = self._model
        ct2 = model.model
        frames = round(self.window_s * 100)  # 10 ms mel hop
        features = model.feature_extractor(audio)[:, :frames]
        features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        _check(cancel)
        encoded = ct2.encode(get_ctranslate2_storage(features[np.newaxis]),
                             to_cpu=False)
        _check(cancel)  # encode and generate each take about half; neither can stop
        if ct2.is_multilingual and language is None:
            language = self._detect(encoded)
        tokenizer = Tokenizer(model.hf_tokenizer, ct2.is_multilingual, task="transcribe",
                              language=language or "en")
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        # a token budget well above speech rates (~3-8 tokens/s) that stops a loop early.
        # CTranslate2 4.x's Whisper stops near max_length/2 new tokens (measured), so
        # max_length is set to cover the budget under either reading; the budget itself
        # is checked below.
        budget = 16 + math.ceil(duration_ms / 1000 * 10)
        result = ct2.generate(
            encoded, [prompt], beam_size=self.beam_size, patience=1.0, length_penalty=1.0,
            max_length=min(_MAX_TOKENS, 2 * (len(prompt) + budget) + 2),
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1])),
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(tokens).strip()
        avg_logprob = float(result.scores[0]) if result.scores else -math.inf
        if (result.no_speech_prob > self.no_speech_threshold
                and avg_logprob < self.log_prob_threshold):
            return Transcript("", True, 0, duration_ms, tokenizer.language_code, None)
        if (len(tokens) > budget or _repeats_itself(text)
                or _compression_ratio(text) > self.compression_ratio_threshold):
            log.info("windowed Whisper pass looks like a loop (%d tokens, %r); redoing it "
                     "with the 30 s window", len(tokens), text[:80])
            return None
        return Transcript(text, True, 0, duration_ms, tokenizer.language_code,
                          round(math.exp(avg_logprob), 4))

    def _detect(self, encoded: Any) -> str:
        ranked = self._model.model.detect_language(encoded)[0]  # [(token, prob)] best first
        allowed = set(self.detect_languages or ())
        for token, _prob in ranked:
            code = token[2:-2]  # "<|ru|>" -> "ru"
            if not allowed or code in allowed:
                return code
        return ranked[0][0][2:-2]

    def _stock(self, audio: np.ndarray, language: str | None,
               duration_ms: int) -> Transcript:
        if language is None and self.detect_languages:
            # faster-whisper cannot restrict detection; detect on the first 30 s ourselves
            from faster_whisper.transcribe import get_ctranslate2_storage

            fe = self._model.feature_extractor
            features = fe(audio[:fe.n_samples])[:, :fe.nb_max_frames]
            features = np.pad(features, ((0, 0), (0, fe.nb_max_frames - features.shape[1])))
            language = self._detect(self._model.model.encode(
                get_ctranslate2_storage(features[np.newaxis]), to_cpu=True))
        segments, info = self._model.transcribe(
            audio, language=language, beam_size=self.beam_size,
            condition_on_previous_text=False, without_timestamps=True, vad_filter=False,
            no_speech_threshold=self.no_speech_threshold,
            log_prob_threshold=self.log_prob_threshold,
            compression_ratio_threshold=self.compression_ratio_threshold)
        segments = list(segments)
        text = " ".join(s.text.strip() for s in segments).strip()
        confidence = None
        if segments:
            mean = sum(s.avg_logprob for s in segments) / len(segments)
            confidence = round(math.exp(mean), 4)
        return Transcript(text, True, 0, duration_ms, info.language, confidence)

    def __repr__(self) -> str:
        return (f"FasterWhisperStt({str(self.model_dir)!r}, compute_type="
                f"{self.compute_type!r}, window_s={self.window_s})")


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise SttCancelled("pass cancelled")


def _compression_ratio(text: str) -> float:
    """Whisper's loop detector: repeated text compresses well."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _repeats_itself(text: str) -> bool:
    """A phrase said again straight after itself: 4+ words twice or 2+ words three times.
    Short windows make Whisper repeat the whole sentence; people rarely do."""
    words = [w.strip(".,!?;:\"'«»-").lower() for w in text.split()]
    words = [w for w in words if w]
    count = len(words)
    for size in range(2, count // 2 + 1):
        times = 2 if size >= 4 else 3
        for start in range(count - size * times + 1):
            phrase = words[start:start + size]
            if all(words[start + k * size:start + (k + 1) * size] == phrase
                   for k in range(1, times)):
                return True
    return False
