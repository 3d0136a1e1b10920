"""WebRTC's GMM voice activity detector (`webrtcvad-wheels`): microseconds per frame,
answers 0 or 1, no model file. Aggressiveness 3 filters line noise best (FINDINGS §7)."""

from __future__ import annotations

import webrtcvad

from media.framing import FRAME_MS
from media.vad.base import Vad, VadError


class WebRtcVad(Vad):
    name = "webrtc"
    supported_rates = (8000, 16000, 32000, 48000)

    def __init__(self, sample_rate: int = 8000, aggressiveness: int = 3,
                 frame_ms: int = FRAME_MS) -> None:
        if frame_ms not in (10, 20, 30):
            raise VadError(f"webrtc VAD takes 10, 20 or 30 ms frames, not {frame_ms} ms")
        if aggressiveness not in (0, 1, 2, 3):
            raise VadError(f"webrtc VAD aggressiveness is 0..3, got {aggressiveness}")
        super().__init__(sample_rate, frame_ms)
        self.aggressiveness = aggressiveness
        self._vad = webrtcvad.Vad(aggressiveness)

    def speech_probability(self, frame: bytes) -> float:
        self.check_frame(frame)
        return 1.0 if self._vad.is_speech(frame, self.sample_rate) else 0.0

    def reset(self) -> None:
        # the C object has no reset; a fresh one is cheap and drops its noise estimate
        self._vad = webrtcvad.Vad(self.aggressiveness)
