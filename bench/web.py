"""Console load benchmark: the admin console on 127.0.0.1 over a temporary SQLite database
holding `--calls` calls of `--turns` turns each, driven by a bounded aiohttp load generator.

Measures requests/s and latency p50/p95/p99 (ms) for
  calls_page   GET /calls (the list page: count + 25 newest, rendered) as a logged-in admin
  chat_faq     POST /v1/chat/completions answered from the FAQ (no LLM involved)
  chat_llm     POST /v1/chat/completions answered by the embedded LLM (llama-server with
               SmolLM2, started by secretary.thinking.build_llm exactly as the phone does);
               "skipped" with the reason when it cannot start
Each phase stops after `--requests` requests or `--seconds`, whichever comes first, with
`--concurrency` requests in flight (the LLM phase: one, as llama-server has one slot). The
server and the load generator share one process and event loop, so the figures are a
lower bound of what the console alone serves; compare runs on the same machine only.

Run: python -m bench.web [--calls 2000] [--turns 6] [--requests 300] [--seconds 20]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet

from bench.measure import percentile, rss_mb
from brain.conversation import Brain, BrainOptions
from brain.llm import ChatModel, find_llama_server
from brain.persona import load_persona
from brain.store import Store
from brain.store.models import build_models
from secretary import thinking
from secretary.settings import LlmSettings, Settings, load_settings
from web.app import create_app
from web.auth.users import AccountStore
from web.services import ConsoleServices
from web.state import ConsoleConfig

HOST = "127.0.0.1"  # never anything else: this generates load
ADMIN = ("bench", "bench-password-1")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FAQ_QUESTIONS = ["What is your address?", "How much does a cleaning cost?",
                 "Where is the clinic?", "What is the price of teeth cleaning?"]
LLM_QUESTIONS = ["Tell me something about the weather today",
                 "Do you like working at the clinic?", "What colour are your walls?",
                 "Is the dentist a friendly person?"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


async def seed(store: Store, calls: int, turns: int) -> float:
    """`calls` ended calls of `turns` turns over the last 30 days, in one transaction."""
    models = build_models(store.database)
    now = datetime.now(UTC)
    timings = {"end_of_turn_ms": 300.0, "stt_final_ms": 800.0, "first_clause_ms": 900.0,
               "first_tts_chunk_ms": 1100.0, "first_rtp_ms": 1250.0}

    def insert() -> None:
        with store.database.atomic():
            for n in range(calls):
                started = now - timedelta(minutes=21.6 * n)
                call_id = models.call.insert(
                    channel="phone", external_id=f"bench-{n}", caller=f"+7912{n:07d}",
                    persona="anna", started_at=started, ended_at=started + timedelta(
                        seconds=20 * turns), end_reason="caller hung up").execute()
                models.turn.insert_many([{
                    "call": call_id, "role": "caller" if t % 2 == 0 else "secretary",
                    "text": f"turn {t} of call {n}: where is the clinic, and when are you open?",
                    "started_at": started + timedelta(seconds=10 * t),
                    "timings": timings if t % 2 else {}} for t in range(turns)]).execute()

    started = time.perf_counter()
    await store.run_in_db_thread(insert)
    return time.perf_counter() - started


async def start_llm(resources: contextlib.AsyncExitStack,
                    settings: Settings) -> tuple[ChatModel | None, str | None]:
    """The phone's LLM chain with only the embedded llama-server; (None, why) if it fails."""
    if find_llama_server(settings.chroot_dir) is None:
        return None, f"no llama-server on PATH or in {settings.chroot_dir}"
    try:
        llm = await thinking.build_llm(settings, resources)
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return (llm, None) if llm is not None else (None, "llama-server did not start (see log)")


async def load(send: Callable[[], Awaitable[tuple[int, dict[str, Any]]]], requests: int,
               seconds: float, concurrency: int) -> dict[str, Any]:
    """Run `send` up to `requests` times or until `seconds` pass, `concurrency` at a time."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    notes: Counter[str] = Counter()
    issued = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            started = time.perf_counter()
            status, info = await send()
            latencies.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
            if "source" in info:
                notes[info["source"]] += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    result: dict[str, Any] = {
        "requests": len(latencies), "seconds": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 1) if elapsed else None,
        "concurrency": concurrency, "statuses": dict(statuses)}
    if latencies:
        result.update({f"p{int(q * 100)}_ms": round(percentile(latencies, q), 1)
                       for q in (0.5, 0.95, 0.99)})
    if notes:
        result["sources"] = dict(notes)
    return result


async def log_in(http: aiohttp.ClientSession, base: str) -> None:
    async with http.get(base + "/login") as page:
        token = CSRF.search(await page.text())
    assert token, "no CSRF token on /login"
    async with http.post(base + "/login", allow_redirects=False, data={
            "username": ADMIN[0], "password": ADMIN[1], "csrf_token": token.group(1)}) as done:
        if done.status != 303:
            raise RuntimeError(f"login failed: {done.status}")


def chat_sender(http: aiohttp.ClientSession, base: str, token: str,
                questions: list[str]) -> Callable[[], Awaitable[tuple[int, dict[str, Any]]]]:
    turn = 0

    async def send() -> tuple[int, dict[str, Any]]:
        nonlocal turn
        question = questions[turn % len(questions)]
        turn += 1
        async with http.post(base + "/v1/chat/completions",
                             headers={"Authorization": f"Bearer {token}"},
                             json={"model": "anna", "messages": [
                                 {"role": "user", "content": question}]}) as response:
            body = await response.json()
            return response.status, body.get("secretary", {}) if response.ok else {}

    return send


async def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"cpu_count": os.cpu_count(), "host": HOST}
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'secretary.db'}"
        async with contextlib.AsyncExitStack() as resources:
            writer = await Store.open(url)
            resources.push_async_callback(writer.close)
            seconds = await seed(writer, args.calls, args.turns)
            result["database"] = {"calls": args.calls, "turns": args.calls * args.turns,
                                  "seed_s": round(seconds, 1)}
            settings = load_settings(llm=LlmSettings(embedded=True,
                                                     embedded_port=free_port()))
            llm, llm_skipped = await start_llm(resources, settings)
            persona = load_persona(settings.personas_dir, "anna")
            services = ConsoleServices(brains={"anna": Brain(persona, writer, llm,
                                                             BrainOptions())})
            reader = await Store.open(url)
            resources.push_async_callback(reader.close)
            accounts = await AccountStore.open(reader)
            await accounts.create_user(*ADMIN, role="admin")
            token = await accounts.create_token(ADMIN[0], "bench")
            config = ConsoleConfig(calls_log_dir=Path(tmp),
                                   session_key=Fernet(Fernet.generate_key()))
            runner = web.AppRunner(create_app(config, reader, accounts, services),
                                   access_log=None)
            await runner.setup()
            resources.push_async_callback(runner.cleanup)
            port = free_port()
            await web.TCPSite(runner, HOST, port).start()
            base = f"http://{HOST}:{port}"
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            # unsafe: keep cookies for an IP-address host (the session cookie of 127.0.0.1)
            async with aiohttp.ClientSession(connector=connector,
                                             cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                await log_in(http, base)

                async def calls_page() -> tuple[int, dict[str, Any]]:
                    async with http.get(base + "/calls") as response:
                        await response.read()
                        return response.status, {}

                result["calls_page"] = await load(calls_page, args.requests, args.seconds,
                                                  args.concurrency)
                result["chat_faq"] = await load(
                    chat_sender(http, base, token, FAQ_QUESTIONS), args.requests,
                    args.seconds, args.concurrency)
                if llm is None:
                    result["chat_llm"] = {"skipped": llm_skipped}
                else:
                    result["chat_llm"] = await load(
                        chat_sender(http, base, token, LLM_QUESTIONS), args.llm_requests,
                        args.seconds * 3, 1)
                    result["chat_llm"]["model"] = llm.name
            result["process_rss_mb"] = rss_mb()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--requests", type=int, default=300, help="per phase, at most")
    parser.add_argument("--llm-requests", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase, at most")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
