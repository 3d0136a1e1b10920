"""Loopback echo: every frame the caller sends is played back to them. Optionally takes a
detour through another sample rate (8k -> 16k -> 8k), the path STT input and TTS output
will take, so benchmarks pay the same resampling cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from media.resample import SoxrStreamResampler

if TYPE_CHECKING:
    from media.call_media import CallMedia


class Echo:
    """An `on_audio` hook that feeds `play(pcm16, sample_rate)` with what it receives.

    `block_ms` > 20 gathers that much audio before resampling and playing it, as an STT
    feed would: each soxr call has a fixed cost of several microseconds, and soxr's HQ
    filter answers in ~100 ms bursts anyway, so 100 ms blocks cost about half as much
    for the same output timing.
    """

    def __init__(self, play: Callable[[bytes, int], Any], sample_rate: int,
                 via_rate: int | None = None, quality: str = "HQ", *,
                 block_ms: int = 20) -> None:
        self._play = play
        self.frames = 0
        self._block_bytes = sample_rate * block_ms // 1000 * 2
        self._pending = bytearray()
        if via_rate is None or via_rate == sample_rate:
            self._rate = sample_rate
            self._up: SoxrStreamResampler | None = None
        else:
            self._rate = via_rate
            self._up = SoxrStreamResampler(sample_rate, via_rate, quality)

    def __call__(self, pcm16: bytes) -> None:
        self.frames += 1
        pending = self._pending
        pending += pcm16
        if len(pending) < self._block_bytes:
            return
        block = bytes(pending)
        pending.clear()
        if self._up is not None:
            block = self._up.process(block)
            if not block:
                return
        self._play(block, self._rate)


def attach_echo(media: CallMedia, via_rate: int | None = None, quality: str = "HQ", *,
                block_ms: int = 20) -> Echo:
    """Make `media` echo the caller back; returns the hook (detach: media.on_audio = None)."""
    echo = Echo(media.play, media.sample_rate, via_rate, quality, block_ms=block_ms)
    media.on_audio = echo
    return echo
