"""Receive-side jitter buffer for one RTP stream: reorders, drops duplicates and late
packets, conceals gaps as None, re-primes after underruns, resynchronises on restarts."""

from __future__ import annotations

from media.rtp import RtpPacket, seq_distance

# RFC 3550 appendix A.1: forward jumps up to MAX_DROPOUT are loss; a packet further away
# (either way) is a stray unless the next one continues from it (then the sender restarted).
MAX_DROPOUT = 3000
MAX_MISORDER = 100


class JitterBuffer:
    """Packets in by `push` (any order), out by `pop` once per frame period.

    Playout starts once `depth` packets are held (prefetch), or once the first one has
    waited as long as that normally takes, and restarts the same way after the buffer runs
    dry. `pop` returns None for a missing packet and moves on, so one loss
    never stalls playout. If the buffer stays above `depth` for a whole `trim_window` of
    pops (e.g. after a delay spike), one packet is dropped to bring the latency back down.
    """

    def __init__(self, depth: int = 3, capacity: int = 50, *, trim_window: int = 50) -> None:
        if depth < 1 or capacity < depth:
            raise ValueError(f"need 1 <= depth <= capacity, got depth={depth} capacity={capacity}")
        self.depth = depth
        self.capacity = capacity
        self.trim_window = trim_window
        self._buf: dict[int, RtpPacket] = {}  # keyed by extended (unwrapped) sequence
        self._ssrc: int | None = None
        self._top: int | None = None  # highest extended sequence accepted
        self._next: int | None = None  # extended sequence to play next
        self._primed = False
        self._waited = 0  # pops while not primed with something buffered
        self._probation: int | None = None  # seq that would confirm a restart
        self._window_pops = 0
        self._window_min = capacity + 1
        self.received = 0
        self.played = 0
        self.late = 0
        self.duplicates = 0
        self.lost = 0
        self.reordered = 0
        self.overflow = 0
        self.underruns = 0
        self.resets = 0
        self.jumps = 0
        self.trimmed = 0

    def __len__(self) -> int:
        return len(self._buf)

    @property
    def primed(self) -> bool:
        return self._primed

    def reset(self) -> None:
        """Forget everything buffered and the sequence state (counters are kept)."""
        self._buf.clear()
        self._top = None
        self._next = None
        self._primed = False
        self._waited = 0
        self._probation = None
        self._window_pops = 0
        self._window_min = self.capacity + 1

    def push(self, packet: RtpPacket) -> bool:
        """Buffer a packet; False if it was dropped (late, duplicate, stray)."""
        self.received += 1
        seq = packet.sequence
        if packet.ssrc != self._ssrc or self._top is None:
            if self._ssrc is not None and packet.ssrc != self._ssrc:
                self.resets += 1
            self.reset()
            self._ssrc = packet.ssrc
            ext = self._top = seq
        else:
            top = self._top
            d = seq_distance(top & 0xFFFF, seq)
            if d > MAX_DROPOUT or d < -MAX_MISORDER:
                if self._probation != seq:
                    self._probation = (seq + 1) & 0xFFFF
                    self.jumps += 1
                    return False
                # two consecutive packets agree on the new numbering: the sender restarted
                self.resets += 1
                self.reset()
                ext = self._top = seq
            else:
                ext = top + d
                self._probation = None
                nxt = self._next
                if nxt is not None and ext < nxt:
                    self.late += 1
                    return False
                if ext in self._buf:
                    self.duplicates += 1
                    return False
                if ext < top:
                    self.reordered += 1
                else:
                    self._top = ext
        buf = self._buf
        buf[ext] = packet
        nxt = self._next
        if nxt is not None:
            if self._top - nxt >= self.capacity:
                self._skip_to(self._top)
        elif len(buf) > self.capacity:
            del buf[min(buf)]  # nobody is popping yet: keep the newest
            self.overflow += 1
        return True

    def _skip_to(self, ext: int) -> None:
        """The sender got a whole buffer ahead of playout (outage or stalled consumer):
        drop everything before `ext` and re-prime from there."""
        buf = self._buf
        for e in range(self._next, ext):
            if buf.pop(e, None) is None:
                self.lost += 1
            else:
                self.overflow += 1
        self._next = ext
        self._primed = False

    def pop(self) -> RtpPacket | None:
        """The next packet in sequence order; None while priming, on underrun, or for a gap."""
        buf = self._buf
        if not self._primed:
            if not buf:
                self._waited = 0
                return None
            # start at `depth` packets, or once the oldest has waited as long as that takes
            # (a trickle after loss must not sit in the buffer forever)
            if len(buf) < self.depth and self._waited < self.depth - 1:
                self._waited += 1
                return None
            self._waited = 0
            first = min(buf)
            if self._next is not None and first > self._next:
                self.lost += first - self._next
            self._next = first
            self._primed = True
        elif not buf:
            self._primed = False
            self.underruns += 1
            return None
        level = len(buf)
        if level < self._window_min:
            self._window_min = level
        self._window_pops += 1
        if self._window_pops >= self.trim_window:
            if self._window_min > self.depth:
                # latency stayed above the target for a whole window: drop the oldest slot
                if buf.pop(self._next, None) is None:
                    self.lost += 1
                self._next += 1
                self.trimmed += 1
            self._window_pops = 0
            self._window_min = self.capacity + 1
        nxt = self._next
        self._next = nxt + 1
        packet = buf.pop(nxt, None)
        if packet is None:
            self.lost += 1
        else:
            self.played += 1
        return packet

    def counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in (
            "received", "played", "late", "duplicates", "lost", "reordered", "overflow",
            "underruns", "resets", "jumps", "trimmed")}
