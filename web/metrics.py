"""Prometheus metrics of the secretary, read from its database, plus this process's own.

Counts (calls, turns, messages, call ends, errors) are read fresh at each scrape with
aggregate queries. The reply-stage histogram is fed from turn timings incrementally: each
scrape reads only the turns added since the last one (by id), so a scrape stays cheap
however long the history. Turn timings changed after a scrape has seen the turn are not
counted again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from brain.store import Store
from web.services import ConsoleServices

# Per-turn stages, ms from the caller's end of speech (ari_app/secretary_behaviour.py);
# first_rtp is the reply latency the caller hears.
STAGES = ("end_of_turn", "stt_final", "llm_first_token", "first_clause", "first_tts_chunk",
          "first_rtp")
STAGE_BUCKETS_S = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
# Call ends that mean something went wrong on our side.
CALL_ERROR_REASONS = frozenset({"behaviour failed", "channel gone after ARI reconnect"})
TURN_BATCH = 1000


@dataclass
class _Counts:
    calls_by_channel: dict[str | None, int] = field(default_factory=dict)
    calls_by_end: dict[str | None, int] = field(default_factory=dict)
    turns_by_role: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    active_calls: int = 0


class _DatabaseCollector(Collector):
    def __init__(self, metrics: ConsoleMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        counts = self._metrics.counts
        calls = CounterMetricFamily("secretary_calls", "Conversations started, by channel.",
                                    labels=["channel"])
        for channel, n in sorted(counts.calls_by_channel.items(), key=_key):
            calls.add_metric([channel or ""], n)
        yield calls
        ended = CounterMetricFamily("secretary_calls_ended", "Conversations ended, by reason.",
                                    labels=["reason"])
        for reason, n in sorted(counts.calls_by_end.items(), key=_key):
            if reason is not None:
                ended.add_metric([reason], n)
        yield ended
        yield GaugeMetricFamily("secretary_calls_active", "Conversations without an end.",
                                value=counts.active_calls)
        turns = CounterMetricFamily("secretary_turns", "Turns recorded, by role.",
                                    labels=["role"])
        for role, n in sorted(counts.turns_by_role.items()):
            turns.add_metric([role], n)
        yield turns
        yield CounterMetricFamily("secretary_messages", "Messages taken for the boss.",
                                  value=counts.messages)
        errors = CounterMetricFamily(
            "secretary_errors", "Errors by where they happened and their type.",
            labels=["source", "type"])
        for reason in sorted(CALL_ERROR_REASONS):
            errors.add_metric(["call", reason], counts.calls_by_end.get(reason, 0))
        for kind, n in sorted(self._metrics.web_errors.items()):
            errors.add_metric(["web", kind], n)
        yield errors
        engines = GaugeMetricFamily(
            "secretary_engine_available",
            "1 when an engine of the running process can be used (tts: each TTS engine; "
            "llm: each persona's LLM chain; 0 while models are still loading).",
            labels=["kind", "name"])
        for (kind, name), up in sorted(self._metrics.engines.items()):
            engines.add_metric([kind, name], 1.0 if up else 0.0)
        yield engines


def engine_availability(services: ConsoleServices) -> dict[tuple[str, str], bool]:
    """(kind, name) -> usable now, for what the console's process has loaded."""
    found: dict[tuple[str, str], bool] = {}
    if services.tts is not None:
        for engine in services.tts.engines():
            found[("tts", engine.describe())] = engine.available()[0]
    for key, brain in services.brains.items():
        found[("llm", key)] = brain.llm is not None
    return found


def _key(item: tuple[str | None, int]) -> str:
    return item[0] or ""


class ConsoleMetrics:
    """One registry per console application."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # CPU seconds, resident memory, open fds
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.counts = _Counts()
        self.web_errors: Counter[str] = Counter()
        self.engines: dict[tuple[str, str], bool] = {}
        self._stages = Histogram(
            "secretary_reply_stage_seconds",
            "Per turn: time from the caller's end of speech to each reply stage "
            "(first_rtp: the reply latency the caller hears).",
            ["stage"], buckets=STAGE_BUCKETS_S, registry=self.registry)
        self.registry.register(_DatabaseCollector(self))
        self._last_turn_id = 0
        self._lock = asyncio.Lock()

    def count_web_error(self, kind: str) -> None:
        self.web_errors[kind] += 1

    async def refresh(self, store: Store) -> None:
        """Read what changed in the database since the last refresh."""
        async with self._lock:  # two scrapes at once must not count new turns twice
            counts = _Counts(
                calls_by_channel=await store.call_counts("channel"),
                calls_by_end=await store.call_counts("end_reason"),
                turns_by_role=await store.turn_counts(),
                messages=await store.count_messages(),
                active_calls=len(await store.open_calls()))
            while True:
                turns = await store.turns_after(self._last_turn_id, TURN_BATCH)
                for turn in turns:
                    for stage in STAGES:
                        ms = turn.timings.get(f"{stage}_ms")
                        if ms is not None and ms >= 0:
                            self._stages.labels(stage=stage).observe(ms / 1000)
                    self._last_turn_id = turn.id
                if len(turns) < TURN_BATCH:
                    break
            self.counts = counts

    def render(self) -> bytes:
        return generate_latest(self.registry)
