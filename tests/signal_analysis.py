"""Signal analysis for tests: what frequency dominates, how much of a band is present, where a
known sound occurs. Tests assert on what a caller heard, never on our internals."""

from __future__ import annotations

import itertools

import numpy as np
import soxr


def tone(freq: float, seconds: float, rate: int = 8000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return amplitude * 32767 * np.sin(2 * np.pi * freq * t)


def band_fraction(x: np.ndarray, rate: int, freq: float, width: float = 40.0) -> float:
    """Share of the signal's energy within ±width Hz of `freq` (0..1)."""
    if len(x) == 0:
        return 0.0
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    total = spectrum[freqs > 60].sum()
    if total <= 0:
        return 0.0
    band = spectrum[(freqs > freq - width) & (freqs < freq + width)].sum()
    return float(band / total)


def dominant_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    spectrum[freqs < 60] = 0
    return float(freqs[int(np.argmax(spectrum))])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else 0.0


def find_sound(haystack: np.ndarray, needle: np.ndarray) -> tuple[int, float]:
    """Best alignment of `needle` in `haystack`: (offset in samples, normalised correlation).

    The correlation is the cosine similarity of the needle and the haystack
    window at that offset: 1.0 for an exact (scaled) copy, near 0 for unrelated audio.
    """
    n = len(needle)
    if len(haystack) < n:
        haystack = np.pad(haystack, (0, n - len(haystack)))
    size = 1 << int(np.ceil(np.log2(len(haystack) + n)))
    corr = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)
    corr = corr[: len(haystack) - n + 1]
    energy = np.convolve(np.square(haystack), np.ones(n), mode="valid")
    needle_energy = np.sum(np.square(needle))
    # A floor keeps digital silence (exact zeros: FFT round-off over ~0) from scoring high.
    norm = np.sqrt(np.maximum(energy, 1e-3 * needle_energy) * needle_energy)
    score = corr / norm
    best = int(np.argmax(score))
    return best, float(score[best])


def share_found(haystack: np.ndarray, needle: np.ndarray, pieces: int = 8,
                threshold: float = 0.8) -> float:
    """The share of `needle`'s pieces that `find_sound` finds in `haystack` (each aligned
    on its own, score above `threshold`): a busy line that loses a packet spoils one
    piece, not the match of the whole; audio that was never heard scores 0."""
    bounds = np.linspace(0, len(needle), pieces + 1).astype(int)
    found = [find_sound(haystack, needle[a:b])[1] > threshold
             for a, b in itertools.pairwise(bounds)]
    return sum(found) / pieces


def to_rate(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    return x if rate == target else soxr.resample(x.astype(np.float32), rate, target)
