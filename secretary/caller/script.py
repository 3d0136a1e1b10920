"""A scripted phone conversation with the running secretary, measured as the caller hears it.

`place_call` synthesises the caller's lines (or takes WAVs), dials the secretary with a
`BaresipPhone`, waits for the greeting, then says each line only once the previous reply has
started and gone quiet (or, for a barge-in line, a set time into the reply), hangs up after
the last reply, and reports every turn: what was said, what the secretary answered
(Whisper on the caller's recording of that reply), and the reply latency, all on the caller's
own clock. The call's database row is looked up by the caller id the call used.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from media.stt.base import SegmentStt
from secretary import speech
from secretary.caller import analysis
from secretary.caller.analysis import DEFAULT_DETECTOR, Detector, Segment
from secretary.caller.baresip import (
    RATE,
    BaresipPhone,
    read_wav,
    write_wav,
)
from secretary.settings import Settings
from voices.base import collect_audio
from voices.chain import EngineRegistry, VoiceSynthesizer
from voices.profile import VoiceProfile

log = logging.getLogger(__name__)

POLL_S = 0.05
# The caller's default voice: Piper for English, festival for Russian, a plainer delivery
# than the personas' presets. Where XTTS clones a persona the two sound nothing alike; on the
# bundled engines both speak English with Piper "joe", so set --voice for a distinct one.
CALLER_VOICE = VoiceProfile(name="caller", language="en", engines=("piper", "festival"),
                            preset="neutral", speed=1.05)
_CYRILLIC = re.compile("[А-Яа-яЁё]")


def guess_language(text: str) -> str:
    return "ru" if _CYRILLIC.search(text) else "en"


def default_target(settings: Settings) -> str:
    a = settings.asterisk
    return f"sip:{a.extension}@{a.bind_address}:{a.sip_port}"


@dataclass(frozen=True)
class Line:
    """One thing the caller says: `text` (spoken in the caller's voice) or a `wav` file."""

    text: str | None = None
    wav: Path | None = None
    language: str | None = None  # ru|en; None: from the text's script (WAVs: detected)
    # Say this line this many seconds after the previous reply began, over it (barge-in),
    # instead of after that reply has gone quiet.
    barge_in_after_s: float | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.wav is None):
            raise ValueError("a line is either text or a WAV file")


@dataclass(frozen=True)
class CallPlan:
    """Where to call, as whom, and how patient to be."""

    target: str
    caller_id: str = "tester"
    timeout_s: float = 120.0  # the whole call; on expiry the caller hangs up
    answer_timeout_s: float = 15.0
    reply_timeout_s: float = 15.0  # longest wait for a reply's (or the greeting's) first sound
    # A reply is over once it has been quiet this long; long enough that a filler ("One
    # moment.") and the answer after it count as one reply.
    quiet_s: float = 2.5
    max_pause_s: float = 1.0  # pauses inside one of the caller's lines
    barge_in_quiet_s: float = 0.3  # talked over, the secretary has stopped once this quiet
    greeting: bool = True  # wait for the greeting (turn 0) before the first line
    language: str | None = None  # ru|en for hearing the greeting; None: detected
    transcribe: bool = True  # Whisper on each reply (and WAV lines); off for pure timing
    keep_dir: Path | None = None  # keep the caller's files here; a temporary folder otherwise
    detector: Detector = DEFAULT_DETECTOR


@dataclass
class Turn:
    """One exchange. Times are seconds on the caller's clock (0 = the call was answered)."""

    index: int
    said: str = ""  # turn 0 (the greeting): nothing
    language: str | None = None
    speech: Segment | None = None  # the caller's line in what it sent
    reply: Segment | None = None  # the secretary's answer in what the caller heard
    latency_ms: float | None = None  # end of the caller's speech (turn 0: answer) -> reply
    barge_in_stop_ms: float | None = None  # barge-in lines: caller starts -> secretary stops
    reply_text: str = ""
    reply_language: str | None = None

    def to_json(self) -> dict[str, Any]:
        def span(s: Segment | None) -> list[float] | None:
            return None if s is None else [round(s.start_s, 3), round(s.end_s, 3)]

        def ms(v: float | None) -> float | None:
            return None if v is None else round(v, 1)

        return {"turn": self.index, "said": self.said, "language": self.language,
                "speech_s": span(self.speech), "reply_s": span(self.reply),
                "latency_ms": ms(self.latency_ms), "barge_in_stop_ms": ms(self.barge_in_stop_ms),
                "reply": self.reply_text, "reply_language": self.reply_language}


@dataclass
class CallReport:
    target: str
    caller_id: str
    turns: list[Turn] = field(default_factory=list)
    ended_by: str = ""  # caller | secretary | timeout
    end_reason: str | None = None
    duration_s: float = 0.0
    error: str | None = None  # set when the call did not go as planned
    call: Any = None  # brain.store CallRecord, when the lookup found it
    call_lookup: str | None = None  # why there is no call record
    recordings: str | None = None  # the secretary's recordings (prefix or folder)
    caller_dir: Path | None = None  # the caller's own files, when kept

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "caller_id": self.caller_id,
                "turns": [t.to_json() for t in self.turns], "ended_by": self.ended_by,
                "end_reason": self.end_reason, "duration_s": round(self.duration_s, 3),
                "error": self.error,
                "call": None if self.call is None else record_to_json(self.call),
                "call_lookup": self.call_lookup, "recordings": self.recordings,
                "caller_recordings": str(self.caller_dir) if self.caller_dir else None}


def record_to_json(record: Any) -> dict[str, Any]:
    """A store record (a dataclass) as JSON-ready values."""
    raw = dataclasses.asdict(record) if dataclasses.is_dataclass(record) else vars(record)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in raw.items()}


class CallerSpeech:
    """The caller's voice (TTS) and ears (Whisper), loaded once and shared by many calls."""

    def __init__(self, voice: VoiceSynthesizer, stt: SegmentStt,
                 engines: EngineRegistry | None = None) -> None:
        self.voice = voice
        self.stt = stt
        self._engines = engines

    @classmethod
    def from_settings(cls, settings: Settings, voice: str | None = None) -> CallerSpeech:
        """`voice`: a profile under voices/ (e.g. marina); None: the built-in caller voice."""
        engines = speech.build_tts(settings)
        synthesizer = (speech.build_voice(settings, engines, voice) if voice
                       else VoiceSynthesizer(CALLER_VOICE, engines))
        return cls(synthesizer, speech.build_segment_stt(settings), engines)

    async def synthesize(self, text: str) -> np.ndarray:
        """`text` in the caller's voice, 8 kHz."""
        audio = await collect_audio(self.voice.stream(text))
        pcm = np.frombuffer(audio.pcm16, dtype=np.int16).astype(np.float32)
        return to_line_rate(pcm, audio.sample_rate)

    async def transcribe(self, samples: np.ndarray, language: str | None) -> tuple[str, str | None]:
        pcm = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
        result = await asyncio.to_thread(self.stt.transcribe, pcm, RATE, language)
        return result.text.strip(), result.language

    def close(self) -> None:
        if self._engines is not None:
            self._engines.close()
        self.stt.close()


def to_line_rate(x: np.ndarray, rate: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x if rate == RATE else soxr.resample(x.astype(np.float32), rate, RATE).astype(
        np.float64)


@dataclass
class _Prepared:
    line: Line
    audio: np.ndarray  # 8 kHz, the line alone
    wav: Path  # the line followed by silence, as the caller's microphone plays it
    said: str


async def _prepare(lines: list[Line], speech_kit: CallerSpeech, folder: Path,
                   pad_s: float) -> list[_Prepared]:
    prepared = []
    pad = np.zeros(int(pad_s * RATE))
    for i, line in enumerate(lines, start=1):
        if line.text is not None:
            audio, said = await speech_kit.synthesize(line.text), line.text
        else:
            assert line.wav is not None
            raw, rate = await asyncio.to_thread(read_wav, line.wav)
            audio, said = to_line_rate(raw, rate), ""
        # aufile keeps sending what follows the line, so the silence after it lasts until
        # the next line (or the end of the call) replaces it.
        wav = write_wav(folder / f"line-{i}.wav", np.concatenate([audio, pad]))
        prepared.append(_Prepared(line, audio, wav, said))
    return prepared


class _CallTimeout(Exception):
    pass


class _Conversation:
    """The live part: pace the caller's lines by what it hears."""

    def __init__(self, phone: BaresipPhone, plan: CallPlan) -> None:
        self.phone = phone
        self.plan = plan
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.deadline = loop.time() + plan.timeout_s
        self.speech: list[Segment | None] = []

    async def tick(self) -> None:
        await asyncio.sleep(POLL_S)
        self.phone.poll()
        if self.loop.time() > self.deadline:
            raise _CallTimeout

    def heard(self) -> np.ndarray:
        return self.phone.heard_samples()

    def _noise(self, x: np.ndarray) -> float:
        return analysis.noise_level(x, RATE, self.plan.detector)

    async def await_onset(self, after_heard_s: float) -> float | None:
        """The first sound the caller hears from `after_heard_s` on (heard clock)."""
        give_up = self.loop.time() + self.plan.reply_timeout_s + 2.0
        while True:
            heard = self.heard()
            onset = analysis.reply_onset(heard, RATE, after_heard_s, self.plan.detector,
                                         self._noise(heard))
            if onset is not None:
                return onset
            if (self.phone.ended.is_set() or self.loop.time() > give_up
                    or len(heard) / RATE > after_heard_s + self.plan.reply_timeout_s):
                return None
            await self.tick()

    async def await_quiet(self, onset_heard_s: float) -> None:
        while not self.phone.ended.is_set():
            heard = self.heard()
            if analysis.reply_end(heard, RATE, onset_heard_s, self.plan.quiet_s,
                                  self.plan.detector, self._noise(heard)) is not None:
                return
            await self.tick()

    async def await_heard(self, heard_s: float) -> None:
        while not self.phone.ended.is_set() and len(self.heard()) / RATE < heard_s:
            await self.tick()

    async def say(self, item: _Prepared) -> Segment | None:
        """Say one line; returns where its speech is in what the caller sent."""
        self.phone.poll()
        mark = len(self.phone.sent_samples()) / RATE
        await self.phone.say(item.wav)
        # The whole line has gone out once the sent recording holds it and a pause.
        done = mark + len(item.audio) / RATE + self.plan.max_pause_s
        while not self.phone.ended.is_set() and len(self.phone.sent_samples()) / RATE < done:
            await self.tick()
        sent = self.phone.sent_samples()
        return analysis.utterance(sent, RATE, mark, self.plan.max_pause_s, self.plan.detector)

    async def run(self, lines: list[_Prepared]) -> None:
        plan = self.plan
        onset: float | None = None
        if plan.greeting:
            onset = await self.await_onset(0.0)
            barge_next = bool(lines) and lines[0].line.barge_in_after_s is not None
            if onset is not None and not barge_next:
                await self.await_quiet(onset)
        for i, item in enumerate(lines):
            if self.phone.ended.is_set():
                return
            if item.line.barge_in_after_s is not None and onset is not None:
                await self.await_heard(onset + item.line.barge_in_after_s)
            segment = await self.say(item)
            self.speech.append(segment)
            if segment is None:
                log.warning("line %d: nothing audible went out", i + 1)
                onset = None
                continue
            onset = await self.await_onset(self.phone.sent_to_heard(segment.end_s))
            barge_next = i + 1 < len(lines) and lines[i + 1].line.barge_in_after_s is not None
            if onset is not None and not barge_next:
                await self.await_quiet(onset)


def _analyse(phone: BaresipPhone, prepared: list[_Prepared], speech_segments: list,
             plan: CallPlan) -> list[Turn]:
    """Every turn's reply, latency and barge-in figures from the complete recordings."""
    heard = phone.heard_samples()
    det = plan.detector
    noise = analysis.noise_level(heard, RATE, det)
    h = phone.sent_to_heard
    turns = [Turn(0, language=plan.language)] if plan.greeting else []
    # Lines never said (the secretary hung up first) have no turn.
    for number, (item, segment) in enumerate(zip(prepared, speech_segments, strict=False), 1):
        language = item.line.language or (guess_language(item.said) if item.said else None)
        turns.append(Turn(number, said=item.said, language=language, speech=segment))
    # Where each turn's reply may be found, on the heard clock: after the caller's speech
    # (turn 0: the answer) and before the next line begins.
    starts = [0.0 if t.index == 0 else (h(t.speech.end_s) if t.speech else None)
              for t in turns]
    limits = [h(t.speech.start_s) if t.speech else None for t in turns[1:]] + [None]
    onsets: list[float | None] = []
    for start, limit in zip(starts, limits, strict=True):
        onset = None if start is None else analysis.reply_onset(heard, RATE, start, det, noise)
        if onset is not None and limit is not None and onset >= limit and start < limit:
            onset = None  # the next line came first: this turn had no reply
        onsets.append(onset)
    total_s = len(heard) / RATE
    for k, (turn, onset) in enumerate(zip(turns, onsets, strict=True)):
        if onset is None:
            continue
        end = analysis.reply_end(heard, RATE, onset, plan.quiet_s, det, noise)
        if end is None:  # still talking when the call ended
            found = analysis.sound_segments(heard[int(onset * RATE):], RATE, det, noise)
            end = onset + (found[-1].end_s if found else 0.0)
        later = [o for o in onsets[k + 1:] if o is not None]
        if later:
            end = min(end, later[0])
        end = min(end, total_s)
        turn.reply = Segment(phone.heard_to_sent(onset), phone.heard_to_sent(end))
        said_end = turn.speech.end_s if turn.speech else 0.0
        turn.latency_ms = round(1000 * (turn.reply.start_s - said_end), 1)
    for turn in turns:
        item = prepared[turn.index - 1] if turn.index else None
        if item is not None and item.line.barge_in_after_s is not None and turn.speech is not None:
            stop = analysis.barge_in_stop(heard, RATE, h(turn.speech.start_s),
                                          plan.barge_in_quiet_s, detector=det, noise=noise)
            turn.barge_in_stop_ms = None if stop is None else round(1000 * stop, 1)
    return turns


async def _transcribe(turns: list[Turn], prepared: list[_Prepared], phone: BaresipPhone,
                      speech_kit: CallerSpeech) -> None:
    heard = phone.heard_samples()
    for turn in turns:
        if turn.reply is None:
            continue
        a = max(0, int((phone.sent_to_heard(turn.reply.start_s) - 0.1) * RATE))
        b = int((phone.sent_to_heard(turn.reply.end_s) + 0.2) * RATE)
        turn.reply_text, turn.reply_language = await speech_kit.transcribe(
            heard[a:b], turn.language)
    for turn in turns:
        item = prepared[turn.index - 1] if turn.index else None
        if item is not None and item.line.wav is not None:
            turn.said, turn.language = await speech_kit.transcribe(item.audio,
                                                                   item.line.language)


async def find_call_record(database_url: str, caller_id: str,
                           wait_for_end_s: float = 3.0) -> tuple[Any, str | None]:
    """The latest call from `caller_id` in the secretary's database: (record, None), or
    (None, why not). Waits briefly for the secretary to record the call's end."""
    try:
        from brain.store import Store
    except ImportError as exc:
        return None, f"no call lookup: brain.store is not available ({exc})"
    if database_url.startswith("sqlite:///") and ":memory:" not in database_url:
        path = Path(database_url.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.exists():
            return None, f"no call lookup: no database at {path}"
    store = await Store.open(database_url)
    try:
        deadline = time.monotonic() + wait_for_end_s
        while True:
            record = await store.latest_call(caller=caller_id)
            # The row is written when the call starts; only its end may still be coming.
            if record is None or record.ended_at is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await store.close()
    if record is None:
        return None, f"no call from {caller_id!r} in {database_url}"
    return record, None


async def place_call(settings: Settings, lines: list[Line], plan: CallPlan,
                     speech_kit: CallerSpeech | None = None,
                     database_url: str | None = None) -> CallReport:
    """Call the running secretary and talk through `lines`. Raises CallFailed when the call
    is refused or not answered; other trouble (a timeout) is in the report's `error`."""
    own_kit = speech_kit is None
    kit = speech_kit or CallerSpeech.from_settings(settings)
    folder = plan.keep_dir or Path(tempfile.mkdtemp(prefix="secretary-call-"))
    folder.mkdir(parents=True, exist_ok=True)
    report = CallReport(plan.target, plan.caller_id,
                        caller_dir=plan.keep_dir)
    try:
        prepared = await _prepare(lines, kit, folder, plan.timeout_s + 10)
        idle = write_wav(folder / "idle.wav", np.zeros(int((plan.timeout_s + 10) * RATE)))
        phone = BaresipPhone(folder / "baresip", idle, user=plan.caller_id)
        await phone.start()
        talk: _Conversation | None = None
        try:
            await phone.dial(plan.target, plan.answer_timeout_s)
            talk = _Conversation(phone, plan)
            try:
                await talk.run(prepared)
            except _CallTimeout:
                report.error = f"the call took longer than {plan.timeout_s:g} s; hung up"
                report.ended_by = "timeout"
            if not report.ended_by:
                report.ended_by = "secretary" if phone.ended.is_set() else "caller"
            if report.ended_by == "secretary" and len(talk.speech) < len(prepared):
                report.error = (f"the secretary hung up after {len(talk.speech)} of "
                                f"{len(prepared)} lines")
            await phone.hang_up()
        finally:
            await phone.close()
        report.end_reason = phone.end_reason
        report.duration_s = len(phone.sent_samples()) / RATE
        report.turns = _analyse(phone, prepared, talk.speech if talk else [], plan)
        if plan.transcribe:
            await _transcribe(report.turns, prepared, phone, kit)
    finally:
        if own_kit:
            kit.close()
        if plan.keep_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    url = database_url or settings.database_url
    try:
        report.call, report.call_lookup = await find_call_record(url, plan.caller_id)
    except Exception as exc:  # the call itself went fine; the report says why the row is missing
        log.warning("call lookup in %s failed", url, exc_info=True)
        report.call_lookup = f"no call lookup: {type(exc).__name__}: {exc}"
    prefix = getattr(report.call, "recording_prefix", None)
    report.recordings = str(prefix) if prefix else str(settings.calls_log_dir.resolve())
    return report

