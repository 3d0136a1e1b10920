"""Speaking one reply on a call: each clause to TTS as it arrives, its audio straight
into the playout, and an account of how much of it the caller actually heard.

Stock phrases (greeting, filler, "are you still there?") are synthesised once and
kept in a small cache shared by every call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from media.call_media import CallMedia
from voices.base import AudioChunk
from voices.chain import VoiceSynthesizer

log = logging.getLogger(__name__)


class PhraseCache:
    """Synthesised audio of phrases said again and again (LRU, shared by calls)."""

    def __init__(self, voice: VoiceSynthesizer, size: int = 64) -> None:
        self.voice = voice
        self.size = size
        self._audio: OrderedDict[str, list[AudioChunk]] = OrderedDict()

    async def get(self, text: str) -> list[AudioChunk]:
        chunks = self._audio.get(text)
        if chunks is None:
            chunks = [chunk async for chunk in self.voice.stream(text)]
            self._audio[text] = chunks
            if len(self._audio) > self.size:
                self._audio.popitem(last=False)
        self._audio.move_to_end(text)
        return chunks


@dataclass
class _Clause:
    text: str
    end_sample: int  # where this clause's audio ends, in line samples from the reply's start


@dataclass
class ReplyPlayback:
    """One reply going out on `media`; times are `loop.time()` seconds."""

    media: CallMedia
    voice: VoiceSynthesizer
    cache: PhraseCache | None = None
    first_chunk_at: float | None = None
    first_audio_sent_at: float | None = None
    clauses: list[_Clause] = field(default_factory=list)
    _queued_samples: int = 0
    _start_played: int = 0

    def __post_init__(self) -> None:
        self._start_played = self.media.playout.played_samples
        self._loop = asyncio.get_running_loop()

    async def say(self, text: str, cached: bool = False) -> None:
        """Synthesise `text` and queue it (returns when all of it is queued, long before
        it has been heard)."""
        if cached and self.cache is not None:
            for chunk in await self.cache.get(text):
                self._queue(chunk)
        else:
            async for chunk in self.voice.stream(text):
                self._queue(chunk)
        self.clauses.append(_Clause(text, self._queued_samples))

    def play_now(self, chunks: list[AudioChunk]) -> None:
        """Queue ready audio that is not part of the reply's text (a filler)."""
        for chunk in chunks:
            self._queue(chunk)

    def _queue(self, chunk: AudioChunk) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = self._loop.time()
            self.media.on_next_audio_sent = self._first_audio_sent
        self.media.play(chunk.pcm16, chunk.sample_rate)
        self._queued_samples += len(chunk.pcm16) // 2 * self.media.sample_rate // chunk.sample_rate

    def _first_audio_sent(self) -> None:
        self.first_audio_sent_at = self._loop.time()

    def finish(self) -> None:
        self.media.finish_play()

    async def drained(self, poll_s: float = 0.02) -> None:
        """Wait until the caller has heard everything queued."""
        self.finish()
        # The playout drains on the shared media clock's ticks, which own no event to
        # wait on; sleeping for what is still queued polls only a few times.
        while not self.media.playout.is_idle:  # noqa: ASYNC110
            await asyncio.sleep(max(poll_s, self.media.pending_ms / 1000))

    def heard_text(self) -> str:
        """The part of this reply the caller heard: whole clauses, then the share of
        the words of the clause cut off that matches the share of its audio played."""
        played = self.media.playout.played_samples - self._start_played
        heard: list[str] = []
        start = 0
        for clause in self.clauses:
            if played >= clause.end_sample:
                heard.append(clause.text)
            elif played > start:
                words = clause.text.split()
                share = (played - start) / max(1, clause.end_sample - start)
                heard.append(" ".join(words[: int(len(words) * share)]))
                break
            else:
                break
            start = clause.end_sample
        return " ".join(part for part in heard if part)
