"""LLM benchmark: llama-server + SmolLM2-135M (the CPU default) through LiteLlmModel, as a call
uses it.

Measures, each from the call to `stream()` to the moment in hand:
  ttft_cold_ms     first token with a persona-sized prompt the server has never seen (a nonce
                   at the top of the system prompt defeats the prompt cache)
  ttft_cached_ms   first token when the system prompt and history are cached and only the
                   caller's new question is new (the normal case from the second turn on)
  first_clause_ms  the whole first clause, generation stopped at , . ! ? by stop strings
                   (what the TTS can start speaking), prompt cached
  decode_tokens_per_s   streamed deltas per second after the first, on long replies
  server_*         llama-server's own timings for one cached request (no client overhead)
  raw_ttft_cached_ms    first token over plain aiohttp SSE, to show what litellm adds
Also: litellm import time, server start (until /health is 200), server memory, and the CPU
other processes used during the measurement (100 = one core's worth): read numbers with it.

Run: python -m bench.llm [--runs 10] [--threads 2] [--port 8097] [--chroot DIR]
Prints one JSON object. Keep the machine otherwise quiet: on 2 cores anything else running
(STT, another benchmark) halves the numbers."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.measure import percentile, rss_mb
from brain.llm import (
    ChatMessage,
    LiteLlmModel,
    LlamaServer,
    LlamaServerConfig,
    find_llama_server,
    preload_litellm,
    smollm2_model_path,
)
from secretary.settings import default_state_dir

PERSONA = (
    "You are Anna, the virtual secretary of Smith & Partners, a small accounting firm in "
    "London. You answer the phone politely and briefly, in one or two short sentences, as a "
    "person would on a call. Office hours are Monday to Friday, nine to six; the office is "
    "closed on weekends and public holidays. Mr Smith is the senior partner; Ms Jones handles "
    "payroll; Mr Brown handles tax returns. If a caller wants to speak to someone who is busy, "
    "offer to take a message with their name, phone number and what it is about, and promise "
    "a call back within one working day. Never give advice on tax or accounting matters "
    "yourself. Never invent prices: say that Mr Smith will prepare a quote. If a caller is "
    "rude, stay calm and polite. If you do not understand, ask the caller to repeat. The "
    "office address is 12 High Street, London, next to the post office; the nearest station "
    "is Bank. Parking is available behind the building. New clients are welcome; the first "
    "meeting is free of charge and takes about half an hour. Documents can be sent by email to "
    "office at smith partners dot co dot uk or dropped off at the reception. "
)
HISTORY = [
    ChatMessage("user", "Hello, is this Smith and Partners?"),
    ChatMessage("assistant", "Yes, this is Anna at Smith and Partners. How can I help you?"),
]
QUESTIONS = [
    "When are you open?", "Can I speak to Mr Smith?", "Where is your office?",
    "Do you do tax returns?", "How much does a first meeting cost?", "Is there parking?",
    "Can I send documents by email?", "Who handles payroll?", "Are you open on Saturday?",
    "I would like to leave a message.",
]
CLAUSE_STOPS = [",", ".", "!", "?"]




def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p95": round(percentile(values, 0.95), 1),
            "min": round(min(values), 1), "max": round(max(values), 1), "n": len(values)}




def cpu_jiffies(pid: int | str = "self") -> int:
    """utime + stime of a process, in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def busy_jiffies() -> int:
    """All CPUs' non-idle time since boot, in clock ticks."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle


def conversation(question: str, nonce: str = "") -> list[ChatMessage]:
    system = (f"Session {nonce}. " if nonce else "") + PERSONA
    return [ChatMessage("system", system), *HISTORY, ChatMessage("user", question)]


async def timed_stream(model: LiteLlmModel, messages: list[ChatMessage],
                       **kwargs: Any) -> tuple[float, float, int, str]:
    """(ms to first delta, ms to the end, deltas, text)."""
    started = time.perf_counter()
    first = None
    count = 0
    text = ""
    async for delta in model.stream(messages, **kwargs):
        if first is None:
            first = time.perf_counter()
        count += 1
        text += delta.text
    ended = time.perf_counter()
    first = first or ended
    return (first - started) * 1000, (ended - started) * 1000, count, text


async def raw_ttft_ms(session: aiohttp.ClientSession, base_url: str,
                      messages: list[ChatMessage]) -> float:
    body = {"model": "smollm2", "stream": True, "max_tokens": 40, "temperature": 0.3,
            "messages": [{"role": m.role, "content": m.content} for m in messages]}
    started = time.perf_counter()
    first = None
    async with session.post(f"{base_url}/chat/completions", json=body) as response:
        async for line in response.content:
            if first is None and line.startswith(b"data: ") and b'"content":"' in line:
                first = time.perf_counter()
    return ((first or time.perf_counter()) - started) * 1000


async def server_timings(session: aiohttp.ClientSession, base_url: str,
                         messages: list[ChatMessage], max_tokens: int) -> dict[str, Any]:
    body = {"model": "smollm2", "max_tokens": max_tokens, "temperature": 0.3,
            "messages": [{"role": m.role, "content": m.content} for m in messages]}
    async with session.post(f"{base_url}/chat/completions", json=body) as response:
        timings = (await response.json()).get("timings", {})
    return {
        "server_prompt_tokens": timings.get("prompt_n"),
        "server_cached_tokens": timings.get("cache_n"),
        "server_prompt_ms": round(timings.get("prompt_ms", 0.0), 1),
        "server_prefill_tokens_per_s": round(timings.get("prompt_per_second", 0.0), 1),
        "server_decode_tokens_per_s": round(timings.get("predicted_per_second", 0.0), 1),
    }


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--max-tokens", type=int, default=128, help="for the tokens/s runs")
    parser.add_argument("--chroot", type=Path, default=default_state_dir() / "asterisk-root")
    args = parser.parse_args(argv)

    result: dict[str, Any] = {"engine": "llama-server + SmolLM2-135M-Instruct Q4_1",
                              "client": "LiteLlmModel (litellm)", "threads": args.threads,
                              "cpus": os.cpu_count(), "runs": args.runs}
    binary = find_llama_server(args.chroot)
    if binary is None:
        result.update(available=False, reason=f"no llama-server on PATH or in {args.chroot}")
        print(json.dumps(result))
        return 1
    result["binary"] = f"{binary.path}" + (f" (chroot {binary.chroot})" if binary.chroot else "")

    started = time.perf_counter()
    await preload_litellm()
    result["litellm_import_s"] = round(time.perf_counter() - started, 2)

    config = LlamaServerConfig(smollm2_model_path(), port=args.port, threads=args.threads,
                               chroot_dir=args.chroot)
    server = LlamaServer(config)
    started = time.perf_counter()
    await server.start()
    result["server_start_s"] = round(time.perf_counter() - started, 2)
    busy_before, ours_before = busy_jiffies(), cpu_jiffies()
    server_before = cpu_jiffies(server.pid or 0)
    measured_from = time.perf_counter()
    try:
        model = LiteLlmModel("openai/smollm2", api_base=server.base_url,
                             name="llama-server/smollm2")
        await timed_stream(model, conversation("Hello?"), max_tokens=8)  # client warm-up

        cold, cached, clause, rates = [], [], [], []
        clause_texts = []
        for run in range(args.runs):
            question = QUESTIONS[run % len(QUESTIONS)]
            ttft, _, _, _ = await timed_stream(model, conversation(question, uuid.uuid4().hex),
                                               max_tokens=16)
            cold.append(ttft)
        await timed_stream(model, conversation(QUESTIONS[0]), max_tokens=4)  # fill the cache
        for run in range(args.runs):
            question = QUESTIONS[(run + 1) % len(QUESTIONS)]
            ttft, _, _, _ = await timed_stream(model, conversation(question), max_tokens=16)
            cached.append(ttft)
        for run in range(args.runs):
            question = QUESTIONS[(run + 2) % len(QUESTIONS)]
            _, total, _, text = await timed_stream(model, conversation(question), max_tokens=40,
                                                   stop=CLAUSE_STOPS)
            clause.append(total)
            clause_texts.append(text)
        for _ in range(max(3, args.runs // 3)):
            story = [ChatMessage("user", "Write a long story about a cat in a lighthouse.")]
            first, total, count, _ = await timed_stream(model, story,
                                                        max_tokens=args.max_tokens)
            if count > 1:
                rates.append((count - 1) / ((total - first) / 1000))

        # llama-server drops a kept-alive connection after a stream: one connection per request.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            raw = []
            for run in range(args.runs):
                question = QUESTIONS[(run + 3) % len(QUESTIONS)]
                raw.append(await raw_ttft_ms(session, server.base_url, conversation(question)))
            result.update(await server_timings(session, server.base_url,
                                               conversation(QUESTIONS[4]), 64))

        result.update({
            "ttft_cold_ms": summary(cold),
            "ttft_cached_ms": summary(cached),
            "first_clause_ms": summary(clause),
            "first_clause_examples": clause_texts[:3],
            "decode_tokens_per_s": round(statistics.median(rates), 1) if rates else None,
            "raw_ttft_cached_ms": summary(raw),
            "server_rss_mb": rss_mb(server.pid),
        })
        # What else ran meanwhile: on 2 cores any of it shows up directly in the numbers above.
        ticks = os.sysconf("SC_CLK_TCK")
        ours = (cpu_jiffies() - ours_before) + (cpu_jiffies(server.pid or 0) - server_before)
        others = busy_jiffies() - busy_before - ours
        elapsed = time.perf_counter() - measured_from
        result["other_processes_cpu_percent"] = round(100 * others / ticks / elapsed, 1)
        result["load_average_1m_at_end"] = os.getloadavg()[0]
    finally:
        await server.stop()
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
