"""End of turn from VAD decisions: a small state machine fed 20 ms pcm16 frames that
reports when the caller starts talking (barge-in), pauses (the moment to start an early
STT pass), resumes, and ends the turn (after a hangover of silence), with the turn's audio.

Times are milliseconds of stream time: the start of the first frame pushed since
construction (or reset) is 0 and every frame advances it by its length."""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass, field

from media.framing import SAMPLE_BYTES
from media.vad.base import Vad

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnEvent:
    #: when it happened in the audio (stream ms); detection comes later, at `detected_ms`
    at_ms: int
    #: end of the frame whose push reported it (stream ms)
    detected_ms: int


@dataclass(frozen=True)
class SpeechStarted(TurnEvent):
    """Speech onset, confirmed after min_speech_ms of speech (clicks don't count);
    at_ms is the first speech frame. Barge-in hooks here."""


@dataclass(frozen=True)
class SilenceStarted(TurnEvent):
    """Speech paused for pause_ms; at_ms is where the silence began. The turn may still
    go on. `audio` is the utterance so far (with its pause) for an early STT pass."""

    audio: bytes = field(default=b"", repr=False)
    start_ms: int = 0  # stream time of audio[0]


@dataclass(frozen=True)
class SpeechResumed(TurnEvent):
    """Speech came back during a pause: an early STT pass started at SilenceStarted is
    stale."""


@dataclass(frozen=True)
class TurnEnded(TurnEvent):
    """Silence lasted hangover_ms (or the turn hit max_turn_ms, or flush()).

    start_ms/end_ms bound the speech; `audio` runs from audio_start_ms (pre-roll before
    the onset) to end_ms plus the tail of pause_ms - exactly the audio of the last
    SilenceStarted when speech did not resume, so an early pass on it is the final one."""

    start_ms: int = 0
    end_ms: int = 0
    audio: bytes = field(default=b"", repr=False)
    audio_start_ms: int = 0
    reason: str = "silence"  # "silence" | "max_length" | "flush"

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


class _State(enum.Enum):
    IDLE = "idle"  # no turn: waiting for a confirmed onset
    SPEAKING = "speaking"  # in a turn, speech or a short gap
    PAUSED = "paused"  # in a turn, SilenceStarted sent, hangover running


class TurnDetector:
    """Turns a VAD's per-frame decisions into turn events.

    - onset: min_speech_ms of consecutive speech frames (debounce against clicks);
    - pause: pause_ms of silence inside a turn -> SilenceStarted (pause_ms <= hangover_ms);
    - resume: resume_ms of consecutive speech during a pause -> SpeechResumed; shorter
      blips during a pause count as silence so a click cannot hold the turn open;
    - end: hangover_ms of silence -> TurnEnded; max_turn_ms caps one turn's length.
    """

    def __init__(self, vad: Vad, hangover_ms: int = 300, min_speech_ms: int = 60,
                 pause_ms: int = 100, resume_ms: int = 60, pre_roll_ms: int = 200,
                 max_turn_ms: int = 30_000) -> None:
        frame_ms = vad.frame_ms
        if not 0 < pause_ms <= hangover_ms:
            raise ValueError(f"need 0 < pause_ms <= hangover_ms, got {pause_ms}, "
                             f"{hangover_ms}")
        if min_speech_ms < frame_ms or resume_ms < frame_ms:
            raise ValueError(f"min_speech_ms and resume_ms must be >= one frame "
                             f"({frame_ms} ms)")
        if max_turn_ms <= hangover_ms or pre_roll_ms < 0:
            raise ValueError("need max_turn_ms > hangover_ms and pre_roll_ms >= 0")
        self.vad = vad
        self.frame_ms = frame_ms
        self.sample_rate = vad.sample_rate
        self.hangover_ms = hangover_ms
        self.min_speech_ms = min_speech_ms
        self.pause_ms = pause_ms
        self.resume_ms = resume_ms
        self.pre_roll_ms = pre_roll_ms
        self.max_turn_ms = max_turn_ms
        # thresholds in whole frames (rounded up), so audio cut points stay consistent
        self._pause_frames = -(-pause_ms // frame_ms)
        self._hangover_frames = -(-hangover_ms // frame_ms)
        # frames before a confirmed onset, kept for pre-roll and the debounce run
        self._history: deque[bytes] = deque(
            maxlen=(pre_roll_ms + min_speech_ms) // frame_ms + 1)
        self._reset_stream()

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def in_turn(self) -> bool:
        return self._state is not _State.IDLE

    @property
    def now_ms(self) -> int:
        """Stream time at the end of the frames pushed so far."""
        return self._frames * self.frame_ms

    def reset(self) -> None:
        """Start a new stream: time returns to 0 and the VAD forgets."""
        self.vad.reset()
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._frames = 0
        self._history.clear()
        self._end_turn_state()

    def _end_turn_state(self) -> None:
        self._state = _State.IDLE
        self._run = 0  # consecutive speech frames (onset or resume debounce)
        self._silence = 0  # silent frames since the last (confirmed) speech
        self._audio = bytearray()
        self._audio_start_ms = 0
        self._start_ms = 0

    def push(self, frame: bytes) -> list[TurnEvent]:
        """Feed one frame (vad.frame_bytes long); returns the events it caused."""
        speech = self.vad.is_speech(frame)
        frame_start = self._frames * self.frame_ms
        self._frames += 1
        now = frame_start + self.frame_ms
        if self._state is _State.IDLE:
            return self._idle(frame, speech, now)
        self._audio += frame
        events: list[TurnEvent] = []
        if self._state is _State.SPEAKING:
            if speech:
                self._silence = 0
            else:
                self._silence += 1
                if self._silence >= self._pause_frames:
                    self._state = _State.PAUSED
                    self._run = 0
                    events.append(SilenceStarted(
                        at_ms=self._silence_start(now), detected_ms=now,
                        audio=bytes(self._audio), start_ms=self._audio_start_ms))
        else:  # PAUSED
            self._silence += 1  # provisional: a blip shorter than resume_ms is silence
            self._run = self._run + 1 if speech else 0
            if self._run * self.frame_ms >= self.resume_ms:
                events.append(SpeechResumed(at_ms=now - self._run * self.frame_ms,
                                            detected_ms=now))
                self._state = _State.SPEAKING
                self._silence = 0
                self._run = 0
        if self._state is _State.PAUSED and self._silence >= self._hangover_frames:
            events.append(self._turn_ended(now, "silence"))
        elif now - self._start_ms >= self.max_turn_ms:
            log.info("turn reached max_turn_ms=%d; ending it", self.max_turn_ms)
            events.append(self._turn_ended(now, "max_length"))
        return events

    def flush(self) -> list[TurnEvent]:
        """End a turn in progress now (the stream ended, e.g. the caller hung up)."""
        if self._state is _State.IDLE:
            return []
        return [self._turn_ended(self.now_ms, "flush")]

    def _idle(self, frame: bytes, speech: bool, now: int) -> list[TurnEvent]:
        self._history.append(frame)
        self._run = self._run + 1 if speech else 0
        if self._run * self.frame_ms < self.min_speech_ms:
            return []
        onset = now - self._run * self.frame_ms
        frames = list(self._history)
        pre = min(len(frames), (self.pre_roll_ms // self.frame_ms) + self._run)
        self._history.clear()
        self._state = _State.SPEAKING
        self._run = 0
        self._silence = 0
        self._start_ms = onset
        self._audio = bytearray(b"".join(frames[-pre:]))
        self._audio_start_ms = now - pre * self.frame_ms
        return [SpeechStarted(at_ms=onset, detected_ms=now)]

    def _silence_start(self, now: int) -> int:
        return now - self._silence * self.frame_ms

    def _turn_ended(self, now: int, reason: str) -> TurnEnded:
        end = self._silence_start(now)
        if reason == "silence":
            # keep the same tail SilenceStarted had, so an early pass matches exactly
            keep_ms = end + self._pause_frames * self.frame_ms - self._audio_start_ms
        else:
            keep_ms = now - self._audio_start_ms
        nbytes = keep_ms * self.sample_rate // 1000 * SAMPLE_BYTES
        event = TurnEnded(at_ms=end, detected_ms=now, start_ms=self._start_ms, end_ms=end,
                          audio=bytes(self._audio[:nbytes]),
                          audio_start_ms=self._audio_start_ms, reason=reason)
        self._end_turn_state()
        return event
