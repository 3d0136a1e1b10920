"""The VAD interface: one 20 ms pcm16 frame in, a speech probability (and a yes/no) out.

Engines are plug-ins (webrtc.py, silero.py) created by name through media.vad.create_vad.
A Vad holds per-stream state: use one instance per call and reset() between streams."""

from __future__ import annotations

from abc import ABC, abstractmethod

from media.framing import FRAME_MS, SAMPLE_BYTES, frame_samples


class VadError(ValueError):
    """A VAD was asked for something it cannot do (unknown engine, unsupported rate,
    a frame of the wrong size)."""


class Vad(ABC):
    """Voice activity detector over fixed-size frames of pcm16 mono."""

    #: engine name as create_vad knows it
    name: str = ""
    #: sample rates the engine accepts
    supported_rates: tuple[int, ...] = ()

    def __init__(self, sample_rate: int, frame_ms: int = FRAME_MS,
                 threshold: float = 0.5) -> None:
        if sample_rate not in self.supported_rates:
            raise VadError(f"{self.name or type(self).__name__} VAD supports sample rates "
                           f"{list(self.supported_rates)}, not {sample_rate}")
        if not 0.0 <= threshold <= 1.0:
            raise VadError(f"threshold must be within [0, 1], got {threshold}")
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.frame_samples = frame_samples(sample_rate, frame_ms)
        self.threshold = threshold

    @property
    def frame_bytes(self) -> int:
        return self.frame_samples * SAMPLE_BYTES

    def check_frame(self, frame: bytes) -> None:
        if len(frame) != self.frame_bytes:
            raise VadError(f"{self.name} VAD expects {self.frame_ms} ms frames of "
                           f"{self.frame_bytes} bytes at {self.sample_rate} Hz, "
                           f"got {len(frame)} bytes")

    @abstractmethod
    def speech_probability(self, frame: bytes) -> float:
        """Probability in [0, 1] that `frame` (exactly frame_bytes long) holds speech.
        Frames are one continuous stream: call this for every frame, in order."""

    def is_speech(self, frame: bytes) -> bool:
        return self.speech_probability(frame) >= self.threshold

    @abstractmethod
    def reset(self) -> None:
        """Forget the stream so far (a new call or an unrelated recording)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sample_rate={self.sample_rate}, " \
               f"threshold={self.threshold})"
