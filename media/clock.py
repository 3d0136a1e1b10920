"""The one shared 20 ms pacer for every call: a timer wheel on the event loop.

Per-call timers are what a Python media plane cannot afford (FINDINGS §7), so all calls
share one timer. To keep a tick's work from piling up on one instant, the period is cut
into `slots`; each subscriber lives in one slot (the least loaded at register time) and
is called at start + n*period + slot*period/slots. Deadlines are computed from the start,
never from the previous wake-up, so there is no drift.

Lateness policy: a tick is served late as long as it is at most `max_late_periods`
periods (default 2, i.e. 40 ms) behind its deadline: after a short stall of the loop
or the VM, each call sends the frames it owes in one go, which the far end's jitter
buffer absorbs, where a dropped frame would be an audible gap. A tick further behind is
skipped (counted in `skipped_ticks`), never replayed, so a long stall cannot turn into a
burst of more than `max_late_periods` frames per call. Subscribers see a skip as a jump
in `tick_index` and can advance their RTP timestamps over it.

uvloop's timers have 1 ms granularity and may fire up to ~1 ms early; wake-ups within
`early_tolerance` of the deadline are served (their error is recorded as negative),
earlier ones re-arm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from media.latency import LatencyHistogram

log = logging.getLogger(__name__)


class TickSubscriber(Protocol):
    def on_tick(self, tick_index: int) -> None: ...


@dataclass(slots=True)
class ClockStats:
    wakeups: int = 0
    early_wakeups: int = 0  # fired before deadline - early_tolerance; re-armed
    ticks: int = 0  # subscriber on_tick calls
    late_ticks: int = 0  # on_tick calls that finished more than late_threshold after deadline
    skipped_ticks: int = 0  # subscriber deadlines missed by more than a period, not served
    subscriber_errors: int = 0
    wake_error: LatencyHistogram = field(default_factory=LatencyHistogram)
    # when each subscriber's on_tick returned, relative to its deadline: the send-time error
    tick_error: LatencyHistogram = field(default_factory=LatencyHistogram)

    def reset(self) -> None:
        self.wakeups = self.early_wakeups = self.ticks = 0
        self.late_ticks = self.skipped_ticks = self.subscriber_errors = 0
        self.wake_error.reset()
        self.tick_error.reset()

    def as_dict(self) -> dict[str, object]:
        return {
            "wakeups": self.wakeups, "early_wakeups": self.early_wakeups, "ticks": self.ticks,
            "late_ticks": self.late_ticks, "skipped_ticks": self.skipped_ticks,
            "subscriber_errors": self.subscriber_errors,
            "wake_error_ms": self.wake_error.summary_ms(),
            "tick_error_ms": self.tick_error.summary_ms(),
        }


class FrameClock:
    """Shared monotonic ticker. `register(sub)` makes it call `sub.on_tick(n)` once per
    period from the next due slot on; `unregister(sub)` stops that."""

    def __init__(self, period: float = 0.020, slots: int = 20, *, late_threshold: float = 0.002,
                 max_late_periods: float = 2.0,
                 early_tolerance: float = 0.001,
                 time_fn: Callable[[], float] = time.monotonic) -> None:
        if period <= 0 or slots < 1 or max_late_periods < 1:
            raise ValueError("need period > 0, slots >= 1 and max_late_periods >= 1")
        self.period = period
        self.max_late = max_late_periods * period
        self.slots = slots
        self.late_threshold = late_threshold
        self.early_tolerance = early_tolerance
        self._now = time_fn
        self._step = period / slots
        self._wheel: list[tuple[Callable[[int], None], ...]] = [()] * slots
        self._slot_of: dict[TickSubscriber, int] = {}
        self._failing: dict[Callable[[int], None], int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._t0 = 0.0
        self._n = 0  # period index of the next deadline
        self._slot = 0  # slot of the next deadline
        self.stats = ClockStats()

    # -- subscribers --------------------------------------------------------------------

    def register(self, subscriber: TickSubscriber) -> int:
        """Add a subscriber to the least loaded slot; returns the slot."""
        if subscriber in self._slot_of:
            return self._slot_of[subscriber]
        slot = min(range(self.slots), key=lambda s: len(self._wheel[s]))
        self._wheel[slot] = (*self._wheel[slot], subscriber.on_tick)
        self._slot_of[subscriber] = slot
        return slot

    def unregister(self, subscriber: TickSubscriber) -> None:
        slot = self._slot_of.pop(subscriber, None)
        if slot is None:
            return
        on_tick = subscriber.on_tick
        self._wheel[slot] = tuple(cb for cb in self._wheel[slot] if cb != on_tick)
        self._failing.pop(on_tick, None)

    def __len__(self) -> int:
        return len(self._slot_of)

    # -- running ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None

    @property
    def tick_index(self) -> int:
        """Index of the period now in progress (or the next one before the first wake)."""
        return self._n

    def start(self) -> None:
        """Start ticking on the running loop; the first period starts now."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._t0 = self._now()
        self._n = 0
        self._slot = 0
        self._arm()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._loop = None

    def deadline(self, tick_index: int, slot: int = 0) -> float:
        """Monotonic time at which `slot` is due in period `tick_index`."""
        return self._t0 + tick_index * self.period + slot * self._step

    def slot_of(self, subscriber: TickSubscriber) -> int | None:
        return self._slot_of.get(subscriber)

    def _deadline(self) -> float:
        return self._t0 + self._n * self.period + self._slot * self._step

    def _advance(self) -> None:
        self._slot += 1
        if self._slot == self.slots:
            self._slot = 0
            self._n += 1

    def _arm(self) -> None:
        # skip empty slots so an idle or lightly used wheel doesn't wake every step
        for _ in range(self.slots):
            if self._wheel[self._slot]:
                break
            self._advance()
        delay = self._deadline() - self._now()
        self._handle = self._loop.call_later(delay if delay > 0 else 0, self._wake)

    def _wake(self) -> None:
        self._handle = None
        if self._loop is None:
            return
        stats = self.stats
        now = self._now()
        deadline = self._deadline()
        if now < deadline - self.early_tolerance:
            stats.early_wakeups += 1
            self._arm()
            return
        stats.wakeups += 1
        stats.wake_error.add(now - deadline)
        # serve what is due now, then return to the loop (sockets, other tasks) even if
        # the next slot is already due: an overloaded wheel must not starve the loop
        horizon = now + self.early_tolerance
        max_late = self.max_late
        while deadline <= horizon:
            subs = self._wheel[self._slot]
            if subs:
                if now - deadline > max_late:
                    stats.skipped_ticks += len(subs)
                else:
                    self._dispatch(subs, self._n, deadline, now)
                    if self._loop is None:  # a subscriber stopped the clock
                        return
                    now = self._now()
            self._advance()
            deadline = self._deadline()
        self._arm()

    def _dispatch(self, subs: tuple[Callable[[int], None], ...], n: int, deadline: float,
                  now: float) -> None:
        stats = self.stats
        hist_add = stats.tick_error.add
        now_fn = self._now
        late = self.late_threshold
        max_late = self.max_late
        for on_tick in subs:
            if now - deadline > max_late:
                # the subscribers before this one overran (or the loop stalled inside
                # this slot) by more than the far end can absorb: skip, don't replay
                stats.skipped_ticks += 1
                continue
            try:
                on_tick(n)
            except Exception:
                self._subscriber_failed(on_tick)
            now = now_fn()
            err = now - deadline
            hist_add(err)
            stats.ticks += 1
            if err > late:
                stats.late_ticks += 1

    def _subscriber_failed(self, on_tick: Callable[[int], None]) -> None:
        self.stats.subscriber_errors += 1
        count = self._failing.get(on_tick, 0) + 1
        self._failing[on_tick] = count
        if count == 1 or count % 1000 == 0:  # a broken subscriber must not flood the log
            log.exception("FrameClock subscriber %r failed (%d times)", on_tick, count)
