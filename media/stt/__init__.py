"""Speech recognition: one interface (base.py), two kinds of engine - streaming (Vosk)
and segment (Whisper via faster-whisper) - and UtteranceRecognizer, which runs a segment
engine on VAD-cut turns with the pass started at the first pause.

Engine packages (faster-whisper, vosk) are imported only when a model loads."""

from media.stt.base import (
    SegmentStt,
    StreamingStt,
    SttCancelled,
    SttEngine,
    SttError,
    SttUnavailable,
    Transcript,
    Word,
)
from media.stt.segmenter import AsyncUtteranceRecognizer, FinalPending, UtteranceRecognizer
from media.stt.vosk import VoskStreamingStt
from media.stt.whisper import FasterWhisperStt

__all__ = [
    "AsyncUtteranceRecognizer",
    "FasterWhisperStt",
    "FinalPending",
    "SegmentStt",
    "StreamingStt",
    "SttCancelled",
    "SttEngine",
    "SttError",
    "SttUnavailable",
    "Transcript",
    "UtteranceRecognizer",
    "VoskStreamingStt",
    "Word",
]
