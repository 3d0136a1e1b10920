"""What a caller's recordings say about a call: where there is sound, when a reply starts and
ends, how long the secretary took to answer and to fall silent when talked over.

Pure functions on mono numpy audio (int16-scaled floats, any rate); times are seconds from
the start of the array. Sound is frame energy over a threshold that is the larger of a fixed
floor (above G.711's idle noise) and a multiple of the recording's own noise level (a low
percentile of frame energy), so a noisy line does not read as one endless reply.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Detector:
    """How sound is told from silence. The defaults suit 8 kHz telephone audio."""

    frame_ms: int = 10
    # int16 RMS; about -55 dBFS. µ-law idle decodes to ±2..8, speech frames are 300+.
    floor: float = 60.0
    # Sound must stand this far above the noise level (x4 = +12 dB).
    noise_factor: float = 4.0
    noise_percentile: float = 10.0
    # A recording that is nearly all speech has a high low-percentile; never let the
    # noise estimate climb to speech level (about -35 dBFS).
    max_noise: float = 600.0
    # Pauses shorter than this inside one stretch of sound (between words) are bridged.
    min_gap_s: float = 0.3
    # Sound shorter than this (a click, a packet of noise) is ignored.
    min_sound_s: float = 0.05


DEFAULT_DETECTOR = Detector()


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of sound, [start_s, end_s)."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def frame_rms(x: np.ndarray, rate: int, frame_ms: int = DEFAULT_DETECTOR.frame_ms) -> np.ndarray:
    """RMS of each whole frame (a trailing partial frame is left out)."""
    size = max(1, rate * frame_ms // 1000)
    frames = len(x) // size
    if frames == 0:
        return np.zeros(0)
    blocks = np.asarray(x[: frames * size], dtype=np.float64).reshape(frames, size)
    return np.sqrt(np.mean(np.square(blocks), axis=1))


def noise_level(x: np.ndarray, rate: int, detector: Detector = DEFAULT_DETECTOR) -> float:
    """The recording's background level: a low percentile of its frame RMS, capped."""
    rms = frame_rms(x, rate, detector.frame_ms)
    if len(rms) == 0:
        return 0.0
    return float(min(np.percentile(rms, detector.noise_percentile), detector.max_noise))


def threshold(noise: float, detector: Detector = DEFAULT_DETECTOR) -> float:
    return max(detector.floor, noise * detector.noise_factor)


def activity(x: np.ndarray, rate: int, detector: Detector = DEFAULT_DETECTOR,
             noise: float | None = None) -> np.ndarray:
    """Per frame: is there sound? `noise` overrides the level estimated from `x` (pass the
    whole recording's level when looking at a piece of it)."""
    if noise is None:
        noise = noise_level(x, rate, detector)
    return frame_rms(x, rate, detector.frame_ms) > threshold(noise, detector)


def sound_segments(x: np.ndarray, rate: int, detector: Detector = DEFAULT_DETECTOR,
                   noise: float | None = None) -> list[Segment]:
    """Stretches of sound, short pauses bridged and blips dropped, in order."""
    active = activity(x, rate, detector, noise)
    frame_s = detector.frame_ms / 1000
    edges = np.flatnonzero(np.diff(np.concatenate(([0], active.astype(np.int8), [0]))))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    merged: list[list[int]] = []
    max_gap = round(detector.min_gap_s / frame_s)
    for start, end in runs:
        if merged and start - merged[-1][1] < max_gap:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    min_frames = max(1, round(detector.min_sound_s / frame_s))
    return [Segment(start * frame_s, end * frame_s) for start, end in merged
            if end - start >= min_frames]


def _segments_from(x: np.ndarray, rate: int, after_s: float, detector: Detector,
                   noise: float | None) -> list[Segment]:
    """Segments of `x` starting at or after `after_s`. A sound already going on at
    `after_s` is not an onset, so the search starts one gap earlier and drops it."""
    if noise is None:
        noise = noise_level(x, rate, detector)
    lead_s = min(max(after_s, 0.0), detector.min_gap_s + 2 * detector.frame_ms / 1000)
    first = max(0, round((after_s - lead_s) * rate))
    origin = first / rate
    found = sound_segments(x[first:], rate, detector, noise)
    return [Segment(s.start_s + origin, s.end_s + origin) for s in found
            if s.start_s + origin >= after_s - 1e-9]


def reply_onset(heard: np.ndarray, rate: int, after_s: float,
                detector: Detector = DEFAULT_DETECTOR, noise: float | None = None
                ) -> float | None:
    """When the first sound that starts at or after `after_s` begins, or None."""
    found = _segments_from(heard, rate, after_s, detector, noise)
    return found[0].start_s if found else None


def reply_end(heard: np.ndarray, rate: int, onset_s: float, quiet_s: float = 1.0,
              detector: Detector = DEFAULT_DETECTOR, noise: float | None = None
              ) -> float | None:
    """End of the reply that starts at `onset_s`: the end of its last sound before
    `quiet_s` of quiet. None while the recording has not yet been quiet that long."""
    found = _segments_from(heard, rate, onset_s, detector, noise)
    if not found:
        return None
    end = found[0].end_s
    for segment in found[1:]:
        if segment.start_s - end >= quiet_s:
            return end
        end = segment.end_s
    return end if len(heard) / rate - end >= quiet_s else None


def reply_latency(speech_end_s: float, heard: np.ndarray, rate: int,
                  detector: Detector = DEFAULT_DETECTOR, noise: float | None = None
                  ) -> float | None:
    """Seconds from the caller's end of speech to the first reply sound after it."""
    onset = reply_onset(heard, rate, speech_end_s, detector, noise)
    return None if onset is None else onset - speech_end_s


def utterance(sent: np.ndarray, rate: int, after_s: float = 0.0, max_pause_s: float = 1.0,
              detector: Detector = DEFAULT_DETECTOR, noise: float | None = None
              ) -> Segment | None:
    """The caller's utterance starting at or after `after_s`: from its first sound to the
    last sound before a pause of `max_pause_s` (pauses between sentences stay inside)."""
    found = _segments_from(sent, rate, after_s, detector, noise)
    if not found:
        return None
    start, end = found[0].start_s, found[0].end_s
    for segment in found[1:]:
        if segment.start_s - end >= max_pause_s:
            break
        end = segment.end_s
    return Segment(start, end)


def barge_in_stop(heard: np.ndarray, rate: int, caller_onset_s: float, quiet_s: float = 0.3,
                  playing_window_s: float = 0.5, detector: Detector = DEFAULT_DETECTOR,
                  noise: float | None = None) -> float | None:
    """Seconds from the caller starting to talk (at `caller_onset_s`, on `heard`'s clock)
    until the secretary's audio stops: the start of the first `quiet_s` of quiet. None when
    nothing was playing in the `playing_window_s` before the onset (nothing to interrupt)
    or the audio never stops within the recording."""
    active = activity(heard, rate, detector, noise)
    frame_s = detector.frame_ms / 1000
    onset = round(caller_onset_s / frame_s)
    window = max(1, round(playing_window_s / frame_s))
    if onset <= 0 or not active[max(0, onset - window): onset].any():
        return None
    quiet_frames = max(1, round(quiet_s / frame_s))
    # Quiet runs of at least quiet_frames: where each starts.
    padded = np.concatenate((active[onset:], np.ones(1, dtype=bool)))
    edges = np.flatnonzero(np.diff(np.concatenate(([1], padded.astype(np.int8)))))
    for start, end in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if end - start >= quiet_frames:
            return start * frame_s
    return None
