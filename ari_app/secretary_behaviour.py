"""The secretary on a call: listen, let the brain answer, speak, yield to the caller.

Turn-taking: the recogniser reports speech onset and a final transcript per turn;
each final starts a reply whose clauses go to TTS as they stream from the brain.
Barge-in: speech onset while a reply is being made or heard cancels it and drops
the queued audio at once; the brain records only what the caller heard. Dead air:
a short filler when a reply is slow to start, "are you still there?" after a
silence, and a polite hang-up when it goes on. Transfers and the final goodbye go
through the call (`CallControl`); every turn lands in the transcript file and,
with its per-stage timings, in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ari_app.behaviours import Greeting, play_greeting
from ari_app.call_log import TranscriptLog
from ari_app.playback import PhraseCache, ReplyPlayback
from brain.conversation import Brain, Conversation
from brain.persona import TransferTarget
from brain.replies import EndCall, ReplyEvent, Say, Transfer
from media.call_media import CallMedia
from media.stt.base import Transcript
from media.stt.segmenter import AsyncUtteranceRecognizer, FinalPending
from media.turn import SpeechStarted, TurnEnded
from voices.base import TtsError
from voices.chain import VoiceSynthesizer

log = logging.getLogger(__name__)

POLL_S = 0.25
DTMF_OPERATOR = "0"


@dataclass(frozen=True)
class DialogueTiming:
    filler_after_s: float = 1.5  # no reply audio this long after the caller's turn: a filler
    silence_prompt_s: float = 8.0  # quiet on both sides this long: "are you still there?"
    max_silence_prompts: int = 2  # then goodbye and hang up
    goodbye_tail_s: float = 0.4  # let the last syllable reach the caller before hanging up


class CallControl(Protocol):
    """What a behaviour may ask of the call it runs on (implemented by CallSession)."""

    caller_number: str
    caller_id: str
    dtmf: asyncio.Queue[str]

    @property
    def recording_prefix(self) -> str | None: ...

    async def transfer(self, target: TransferTarget) -> bool:
        """Ring `target`; True once the caller is bridged with them."""


class _Outcome:
    CONTINUE = "continue"
    HANG_UP = "hang up"
    TRANSFERRED = "transferred"


@dataclass
class _Turn:
    """Timing marks of one caller turn, as `loop.time()` seconds."""

    speech_end_at: float
    end_of_turn_ms: float
    early_pass: bool = False  # the STT pass begun at the first pause was kept
    final_at: float | None = None


class SecretaryBehaviour:
    def __init__(self, brain: Brain, recognizer_factory: Callable[[], AsyncUtteranceRecognizer],
                 voice: VoiceSynthesizer, cache: PhraseCache, timing: DialogueTiming,
                 apology: Greeting | None = None) -> None:
        self.brain = brain
        self.recognizer_factory = recognizer_factory
        self.voice = voice
        self.cache = cache
        self.timing = timing
        self.apology = apology

    async def run(self, media: CallMedia, call: CallControl) -> None:
        conversation = await self.brain.start(
            channel="phone", external_id=call.caller_id, caller=call.caller_number,
            recording_prefix=call.recording_prefix)
        call_run = _CallRun(self, media, call, conversation)
        reason = "caller hung up"
        try:
            reason = await call_run.run()
        finally:
            # Whatever ended the call, the reply under way and the call's end are recorded.
            await asyncio.shield(call_run.finish(reason))


class _CallRun:
    """The state of one call's dialogue (one instance per call)."""

    def __init__(self, behaviour: SecretaryBehaviour, media: CallMedia, call: CallControl,
                 conversation: Conversation) -> None:
        self.b = behaviour
        self.media = media
        self.call = call
        self.conversation = conversation
        self.loop = asyncio.get_running_loop()
        self.recognizer = behaviour.recognizer_factory()
        prefix = call.recording_prefix
        self.transcript = (TranscriptLog(Path(prefix), redact=behaviour.brain.store.redact)
                           if prefix else None)
        self.reply_task: asyncio.Task[str] | None = None
        self.playback: ReplyPlayback | None = None
        self.turn: _Turn | None = None
        self.caller_talking = False
        self.quiet_since = self.loop.time()
        self.silence_prompts = 0

    # ---- hearing (called on every 20 ms frame) ---------------------------------------

    def hear(self, pcm16: bytes) -> None:
        for event in self.recognizer.push(pcm16):
            if isinstance(event, SpeechStarted):
                self.caller_talking = True
                self.silence_prompts = 0
                if self.speaking:
                    self._barge_in()
            elif isinstance(event, FinalPending | TurnEnded):
                turn = event.turn if isinstance(event, FinalPending) else event
                self.caller_talking = False
                self.quiet_since = self.loop.time()
                if turn is not None:
                    late_ms = turn.detected_ms - turn.end_ms
                    early = isinstance(event, FinalPending) and event.early
                    self.turn = _Turn(self.loop.time() - late_ms / 1000, float(late_ms),
                                      early_pass=early)

    @property
    def speaking(self) -> bool:
        busy = self.reply_task is not None and not self.reply_task.done()
        return busy or not self.media.playout.is_idle

    def _barge_in(self) -> None:
        if self.reply_task is not None and not self.reply_task.done():
            self.reply_task.cancel()
        dropped_ms = self.media.clear_playout() * 1000 // self.media.sample_rate
        log.info("barge-in: the caller spoke; dropped %d ms of queued audio", dropped_ms)

    # ---- the dialogue ----------------------------------------------------------------

    async def run(self) -> str:
        self.media.on_audio = self.hear
        finals = asyncio.create_task(self.recognizer.next_final())
        keys = asyncio.create_task(self.call.dtmf.get())
        self._start_reply(self.conversation.greet(), cached=True)
        try:
            while True:
                waiting: set[asyncio.Future[object]] = {finals, keys}
                if self.reply_task is not None:
                    waiting.add(self.reply_task)
                done, _ = await asyncio.wait(waiting, timeout=POLL_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if self.reply_task is not None and self.reply_task in done:
                    outcome = await self._reply_ended()
                    if outcome != _Outcome.CONTINUE:
                        return outcome
                if finals in done:
                    transcript = self._transcript_of(finals)
                    finals = asyncio.create_task(self.recognizer.next_final())
                    if transcript is not None:
                        await self._on_caller_turn(transcript)
                if keys in done:
                    digit = keys.result()
                    keys = asyncio.create_task(self.call.dtmf.get())
                    await self._on_dtmf(digit)
                if not done:
                    self._check_silence()
        finally:
            for task in (finals, keys):
                task.cancel()

    def _transcript_of(self, finals: asyncio.Task[Transcript]) -> Transcript | None:
        try:
            transcript = finals.result()
        except Exception:
            log.exception("speech recognition failed on a turn")
            return None
        if self.turn is not None:
            self.turn.final_at = self.loop.time()
        text = transcript.text.strip()
        if not text or not any(ch.isalnum() for ch in text):
            return None  # a cough or a click: nothing to answer
        return transcript

    async def _on_caller_turn(self, transcript: Transcript) -> None:
        log.info("caller (%s): %s", transcript.language, transcript.text)
        if self.transcript:
            self.transcript.write("Caller", transcript.text.strip())
        if self.reply_task is not None and not self.reply_task.done():
            self._barge_in()
            await self._reply_ended()
        self._start_reply(self.conversation.respond(transcript.text.strip(),
                                                    transcript.language))

    async def _on_dtmf(self, digit: str) -> None:
        log.info("caller pressed %s", digit)
        if digit != DTMF_OPERATOR or self.speaking:
            return  # only 0 (operator) means something; the rest is ignored, not misheard
        self._start_reply(self.conversation.request_transfer())

    def _check_silence(self) -> None:
        if self.speaking or self.caller_talking:
            self.quiet_since = self.loop.time()
            return
        if self.loop.time() - self.quiet_since < self.b.timing.silence_prompt_s:
            return
        self.quiet_since = self.loop.time()
        self.turn = None
        prompts = self.silence_prompts
        self.silence_prompts += 1
        self._start_reply(self.conversation.silence(prompts, self.b.timing.max_silence_prompts),
                          cached=True)

    # ---- speaking a reply ------------------------------------------------------------

    def _start_reply(self, events: AsyncIterator[ReplyEvent], cached: bool = False) -> None:
        self.playback = ReplyPlayback(self.media, self.b.voice, self.b.cache)
        self.reply_task = asyncio.create_task(self._speak(events, self.playback, cached))

    async def _speak(self, events: AsyncIterator[ReplyEvent], playback: ReplyPlayback,
                     cached: bool) -> str:
        filler = self.loop.call_later(self.b.timing.filler_after_s, self._filler, playback)
        try:
            async for event in events:
                if isinstance(event, Say):
                    await self._say(playback, event, cached)
                elif isinstance(event, Transfer):
                    await playback.drained()
                    if await self.call.transfer(event.target):
                        return _Outcome.TRANSFERRED
                    async for retry in self.conversation.transfer_failed(event.target):
                        if isinstance(retry, Say):
                            await self._say(playback, retry, cached)
                elif isinstance(event, EndCall):
                    await playback.drained()
                    await asyncio.sleep(self.b.timing.goodbye_tail_s)
                    return _Outcome.HANG_UP
            # The reply lasts until the caller has heard it: talking over any of it is a
            # barge-in, and what was heard is known.
            await playback.drained()
            return _Outcome.CONTINUE
        finally:
            filler.cancel()
            await _close(events)

    async def _say(self, playback: ReplyPlayback, say: Say, cached: bool) -> None:
        try:
            await playback.say(say.text, cached=cached or say.stock)
        except TtsError as exc:
            log.error("could not say %r: %s", say.text, exc)
            play_greeting(self.media, self.b.apology)

    def _filler(self, playback: ReplyPlayback) -> None:
        if playback.first_chunk_at is not None or not self.media.playout.is_idle:
            return
        filler = self.b.brain.persona.phrase("filler", self.conversation.language)
        task = asyncio.create_task(self.b.cache.get(filler))

        def play(done: asyncio.Task[list]) -> None:
            if not done.cancelled() and done.exception() is None \
                    and playback.first_chunk_at is None and self.reply_task is not None \
                    and not self.reply_task.done():
                playback.play_now(done.result())
                playback.finish()

        task.add_done_callback(play)

    async def _reply_ended(self) -> str:
        task, playback = self.reply_task, self.playback
        assert task is not None and playback is not None
        self.reply_task = None
        if not task.done():  # cancelled just now (a final came mid-reply): let it unwind
            task.cancel()
            await asyncio.wait({task})
        interrupted = task.cancelled()
        outcome = _Outcome.CONTINUE
        if not interrupted:
            try:
                outcome = task.result()
            except Exception:
                log.exception("a reply failed")
                play_greeting(self.media, self.b.apology)
        heard = playback.heard_text() if interrupted else None
        said = " ".join(c.text for c in playback.clauses)
        await self.conversation.finish_reply(heard, self._timings(playback))
        if self.transcript and said:
            note = f"interrupted; heard: {heard or '-'}" if interrupted else ""
            self.transcript.write(self.b.brain.persona.name, said, note)
        self.quiet_since = self.loop.time()
        return outcome

    def _timings(self, playback: ReplyPlayback) -> dict[str, float]:
        """Per-stage milliseconds from the caller's end of speech (as the VAD saw it)."""
        turn, stats = self.turn, self.conversation.stats
        self.turn = None
        if turn is None:
            return {}
        marks = {
            "stt_final_ms": turn.final_at,
            "llm_first_token_ms": stats.llm_first_token_at,
            "first_clause_ms": stats.first_say_at,
            "first_tts_chunk_ms": playback.first_chunk_at,
            "first_rtp_ms": playback.first_audio_sent_at,
        }
        timings = {"end_of_turn_ms": turn.end_of_turn_ms,
                   "stt_early_pass": 1.0 if turn.early_pass else 0.0}
        for name, at in marks.items():
            if at is not None:
                timings[name] = round((at - turn.speech_end_at) * 1000, 1)
        return timings

    async def finish(self, reason: str) -> None:
        self.media.on_audio = None
        if self.reply_task is not None:
            self.reply_task.cancel()
            await asyncio.wait({self.reply_task})
            await self._reply_ended()
        self.recognizer.close()
        await self.conversation.close(reason)
        if self.transcript:
            self.transcript.close()


async def _close(events: AsyncIterator[ReplyEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()
