"""A tiny, exact VAD for tests: speech is any sample louder than 100, so tests of what sits
on top of a VAD (turn detection, recognisers) check that logic, not a model's judgement."""

from __future__ import annotations

import numpy as np

from media.vad import Vad

RATE = 8000


class EnergyVad(Vad):
    name = "energy"
    supported_rates = (RATE,)

    def __init__(self, sample_rate: int = RATE) -> None:
        super().__init__(sample_rate)

    def speech_probability(self, frame: bytes) -> float:
        self.check_frame(frame)
        return float(np.abs(np.frombuffer(frame, np.int16)).max() > 100)

    def reset(self) -> None:
        pass
