"""Fixed-bin latency histogram: O(1) to record on a hot path, percentiles without keeping
every sample."""

from __future__ import annotations


class LatencyHistogram:
    """Counts of values in seconds, `bin_s` wide, from `low_s` to `high_s`; values outside
    land in the first/last bin (`min`/`max` keep the true extremes)."""

    __slots__ = ("_bins", "_inv", "_last", "_low", "bin_s", "count", "max", "min", "total")

    def __init__(self, bin_s: float = 20e-6, low_s: float = -0.005, high_s: float = 0.2) -> None:
        if bin_s <= 0 or high_s <= low_s:
            raise ValueError("need bin_s > 0 and high_s > low_s")
        self.bin_s = bin_s
        self._low = low_s
        self._inv = 1.0 / bin_s
        self._bins = [0] * (int((high_s - low_s) / bin_s) + 1)
        self._last = len(self._bins) - 1
        self.reset()

    def reset(self) -> None:
        self._bins = [0] * len(self._bins)
        self.count = 0
        self.total = 0.0
        self.max = float("-inf")
        self.min = float("inf")

    def add(self, value: float) -> None:
        i = int((value - self._low) * self._inv)
        if i < 0:
            i = 0
        elif i > self._last:
            i = self._last
        self._bins[i] += 1
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value
        if value < self.min:
            self.min = value

    def percentile(self, q: float) -> float:
        """Upper edge of the bin holding the q-th percentile (0 < q <= 100), in seconds;
        rounding up keeps a "p99 below X" check honest. NaN when empty."""
        if not self.count:
            return float("nan")
        rank = max(1, -(-self.count * q // 100))  # ceil without float error at q=100
        seen = 0
        for i, n in enumerate(self._bins):
            seen += n
            if seen >= rank:
                if i == self._last:  # the overflow bin: only max is known
                    return self.max
                return min(self._low + (i + 1) * self.bin_s, self.max)
        return self.max

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float("nan")

    def summary_ms(self) -> dict[str, float]:
        """count, p50, p90, p99, p999, max, mean in milliseconds (for JSON reports)."""
        if not self.count:
            return {"count": 0}
        out: dict[str, float] = {"count": self.count}
        for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
            out[name] = round(self.percentile(q) * 1000, 3)
        out["max"] = round(self.max * 1000, 3)
        out["mean"] = round(self.mean * 1000, 3)
        return out
