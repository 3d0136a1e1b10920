"""Call benchmark: reply latency and barge-in as a real SIP caller hears them, plus the
app's own per-stage timings from its database.

N calls, each: the greeting, K questions (each said once the previous reply has gone
quiet), then the barge-in question and, `--barge-in-after` seconds into its reply, a line
spoken over it. Everything is measured on the caller's own recordings (end of the caller's
speech -> first reply audio; caller starts talking -> secretary audio stops), see
secretary/caller/analysis.py. The stage breakdown comes from the secretary's turn rows
(`timings`, each stage measured by the app from the caller's end of speech), when the
secretary keeps them.

Run: python -m bench.call_latency [--calls 3] [--questions 3] [--mode parrot]
     python -m bench.call_latency --target sip:100@127.0.0.1:5060 [--database URL]
Without --target it starts its own Asterisk instance and secretary on free ports (mode:
--mode, else the settings'). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from secretary.caller import CallerSpeech, CallFailed, CallPlan, CallReport, Line, place_call
from secretary.caller.sandbox import LocalSecretary, SandboxOptions
from secretary.settings import Settings, load_settings

# Questions a secretary answers itself (no transfer, no hang-up), clear over the line.
QUESTIONS = [
    "When are you open?",
    "Where is your office?",
    "How much does a consultation cost?",
    "Do you work on Saturdays?",
]
STAGES = ["end_of_turn_ms", "stt_final_ms", "llm_first_token_ms", "first_clause_ms",
          "first_tts_chunk_ms", "first_rtp_ms"]


def spread(values: list[float], avg: bool = False) -> dict[str, Any]:
    """n, p50, p95, max (and mean) of `values`, in ms, rounded."""
    if not values:
        return {"n": 0}
    x = np.asarray(values, dtype=float)
    out = {"n": len(x), "p50": round(float(np.percentile(x, 50)), 1),
           "p95": round(float(np.percentile(x, 95)), 1), "max": round(float(x.max()), 1)}
    if avg:
        out["avg"] = round(float(x.mean()), 1)
    return out


async def stage_timings(database_url: str, reports: list[CallReport]) -> tuple[
        dict[str, list[float]], str | None]:
    """Stage name -> values over the secretary turns of the measured calls."""
    try:
        from brain.store import Store
    except ImportError as exc:
        return {}, f"brain.store is not available ({exc})"
    ids = [r.call.id for r in reports if r.call is not None]
    if not ids:
        return {}, "no call rows found for the benchmark's callers"
    values: dict[str, list[float]] = {}
    store = await Store.open(database_url)
    try:
        for call_id in ids:
            for turn in await store.turns(call_id):
                if turn.role != "secretary":
                    continue
                for stage, ms in (turn.timings or {}).items():
                    values.setdefault(stage, []).append(float(ms))
    finally:
        await store.close()
    return values, None if values else "the turn rows carry no timings"


def summarise(reports: list[CallReport], failures: list[str], stages: dict[str, list[float]],
              stages_note: str | None, args: argparse.Namespace, target: str,
              mode: str) -> dict[str, Any]:
    per_turn: dict[str, list[float]] = {}
    questions: list[float] = []
    barge: list[float] = []
    for report in reports:
        for turn in report.turns:
            if turn.barge_in_stop_ms is not None:
                barge.append(turn.barge_in_stop_ms)
            if turn.latency_ms is None or turn.barge_in_stop_ms is not None:
                continue  # the barge-in line's own reply is not a question's latency
            per_turn.setdefault(f"turn_{turn.index}", []).append(turn.latency_ms)
            if 1 <= turn.index <= args.questions:
                questions.append(turn.latency_ms)
    ordered = [s for s in STAGES if s in stages] + sorted(set(stages) - set(STAGES))
    return {
        "target": target,
        "mode": mode,
        "language": args.language if not args.target else None,
        "calls": len(reports),
        "questions_per_call": args.questions,
        "reply_latency_ms": {
            "questions": spread(questions),
            "per_turn": {k: spread(v) for k, v in sorted(per_turn.items(),
                                                         key=lambda kv: int(kv[0][5:]))},
        },
        "stage_timings_ms": {s: spread(stages[s], avg=True) for s in ordered},
        "stage_timings_note": stages_note,
        "barge_in_stop_ms": spread(barge),
        "barge_in_after_s": args.barge_in_after,
        "unanswered_turns": sum(1 for r in reports for t in r.turns if t.reply is None),
        "failed_calls": failures,
        "per_call": [{"caller_id": r.caller_id, "error": r.error,
                      "latency_ms": [t.latency_ms for t in r.turns],
                      "replies": [t.reply_text for t in r.turns] if args.transcribe else None}
                     for r in reports],
    }


async def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    questions = [args.question[i % len(args.question)] for i in range(args.questions)]
    lines = [Line(q) for q in questions]
    if args.barge_in_question:
        lines += [Line(args.barge_in_question),
                  Line(args.barge_in_line, barge_in_after_s=args.barge_in_after)]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-call-"))
    kit = CallerSpeech.from_settings(settings)
    sandbox = None
    try:
        if args.target:
            target, database_url = args.target, args.database or settings.database_url
            mode = args.mode or "(the running secretary's)"
        else:
            language = {} if args.language == "auto" else {
                "SECRETARY_STT__LANGUAGE": args.language}
            sandbox = LocalSecretary(settings, SandboxOptions(workdir / "secretary",
                                                              instance=args.instance,
                                                              mode=args.mode,
                                                              extra_env=language))
            await sandbox.start()
            target, database_url = sandbox.target, sandbox.database_url
            mode = args.mode or settings.call.mode
        reports: list[CallReport] = []
        failures: list[str] = []
        for i in range(args.warmup + args.calls):
            plan = CallPlan(target, caller_id=f"bench-{secrets.token_hex(3)}-{i}",
                            timeout_s=args.timeout, quiet_s=args.quiet,
                            transcribe=args.transcribe,
                            keep_dir=workdir / f"call-{i}" if args.keep else None)
            warm = i < args.warmup
            try:
                report = await place_call(settings, lines[:1] if warm else lines, plan, kit,
                                          database_url=database_url)
            except CallFailed as exc:
                failures.append(str(exc))
                continue
            if report.error:
                failures.append(f"{plan.caller_id}: {report.error}")
            if not warm:
                reports.append(report)
            print(f"call {i + 1}/{args.warmup + args.calls}{' (warm-up)' if warm else ''}: "
                  f"latencies {[t.latency_ms for t in report.turns]}", file=sys.stderr)
        stages, note = await stage_timings(database_url, reports)
        return summarise(reports, failures, stages, note, args, target, mode)
    finally:
        kit.close()
        if sandbox is not None:
            await sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--questions", type=int, default=3, help="questions per call")
    parser.add_argument("--question", action="append", default=None,
                        help="a question to ask (repeatable; cycled); default: a built-in set")
    parser.add_argument("--barge-in-question", default="What services do you offer?",
                        help="asked last; its reply is talked over ('' to skip barge-in)")
    parser.add_argument("--barge-in-line", default="Sorry, one more thing.")
    parser.add_argument("--barge-in-after", type=float, default=1.5,
                        help="seconds into the reply the caller starts talking over it")
    parser.add_argument("--mode", default=None,
                        help="the secretary's call.mode (e.g. parrot); default: the settings'")
    parser.add_argument("--target", default=None,
                        help="call this running secretary instead of starting one")
    parser.add_argument("--database", default=None,
                        help="with --target: its database URL (default: the settings')")
    parser.add_argument("--language", default="en", choices=["en", "ru", "auto"],
                        help="the line's stt.language for the secretary it starts (the "
                             "target is for an English line; auto: detect ru/en per turn)")
    parser.add_argument("--instance", default="bench", help="Asterisk instance to start")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unmeasured one-line calls first (models load on first use)")
    parser.add_argument("--timeout", type=float, default=180.0, help="per call, seconds")
    parser.add_argument("--quiet", type=float, default=2.5,
                        help="seconds of quiet that end a reply")
    parser.add_argument("--transcribe", action="store_true",
                        help="also transcribe every reply (Whisper, after each call)")
    parser.add_argument("--workdir", default=None, help="default: a new temporary folder")
    parser.add_argument("--keep", action="store_true",
                        help="keep each call's caller recordings under the workdir")
    args = parser.parse_args(argv)
    args.question = args.question or QUESTIONS
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = asyncio.run(run(args, load_settings()))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 1 if result["failed_calls"] else 0


if __name__ == "__main__":
    sys.exit(main())
