"""Numbers the console shows: latency percentiles over turns, and a turn's stage timings
laid out as a waterfall."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from web.metrics import STAGES

REPLY_LATENCY = "first_rtp_ms"  # end of the caller's speech -> first reply audio sent
STAGE_LABELS = {
    "end_of_turn_ms": "end of turn",
    "stt_final_ms": "STT final",
    "llm_first_token_ms": "LLM first token",
    "first_clause_ms": "first clause",
    "first_tts_chunk_ms": "first TTS audio",
    "first_rtp_ms": "first RTP packet",
}


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile (p in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class LatencySummary:
    turns: int
    p50_ms: float | None
    p95_ms: float | None


def reply_latency(timings: Iterable[Mapping[str, float]]) -> LatencySummary:
    values = [t[REPLY_LATENCY] for t in timings if t.get(REPLY_LATENCY) is not None]
    return LatencySummary(turns=len(values), p50_ms=percentile(values, 50),
                          p95_ms=percentile(values, 95))


@dataclass(frozen=True)
class WaterfallBar:
    stage: str
    label: str
    start_ms: float
    end_ms: float
    left_pct: float
    width_pct: float


def waterfall(timings: Mapping[str, float], scale_ms: float) -> list[WaterfallBar]:
    """Each known stage as a bar from the stage reached before it to its own mark, in the
    order they happened, on a scale where `scale_ms` is the full width."""
    keys = (f"{stage}_ms" for stage in STAGES)
    marks = sorted((timings[key], key) for key in keys
                   if isinstance(timings.get(key), int | float) and timings[key] >= 0)
    scale = max(scale_ms, 1.0)
    bars: list[WaterfallBar] = []
    previous = 0.0
    for at, key in marks:
        left = min(previous / scale * 100, 100.0)
        width = min(max((at - previous) / scale * 100, 0.5), 100.0 - left)
        bars.append(WaterfallBar(stage=key, label=STAGE_LABELS.get(key, key),
                                 start_ms=previous, end_ms=at,
                                 left_pct=round(left, 2), width_pct=round(width, 2)))
        previous = at
    return bars


def waterfall_scale(all_timings: Iterable[Mapping[str, float]]) -> float:
    """One scale for every turn of a call, so their bars compare."""
    return max((v for t in all_timings for k, v in t.items()
                if k.endswith("_ms") and isinstance(v, int | float)), default=1.0)
