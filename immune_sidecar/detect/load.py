"""How an agent's per-call level moves with its load: the slope of the log level on the
log of an interval's calls.

Calls are slower when the agent is busy (queues, rate limits, a shared cache's
misses), and a batch agent's idle minutes hold a call or two where its busy ones
hold dozens. Judged against one level, its idle calls pulled the level down and
each busy spell began as a lasting shift. A level is therefore read at the
agent's usual load: an interval's log value is moved there along the slope.

The slope is the weighted least-squares slope of intervals' residuals on the log
of their calls, forgotten as the level's spread is, shrunk towards 0 as if
``PRIOR`` intervals one unit of log calls away had shown none, and bounded to
[0, ``MAX_SLOPE``]: calls are never taken to be faster when busy, and a storm's
extra calls (a retry storm's) can explain away little of its latency. An
interval's distance in load is clipped at ``REACH`` of the load's spread: the
slope is not extrapolated far beyond the loads it was learned from.
"""

import math

MAX_SLOPE = 0.15  # log level per log calls: twice the calls, at most 11% slower calls
PRIOR = 10.0  # intervals' worth of no slope, one unit of log calls from the mean
REACH = 3.0  # standard deviations of the log calls an interval's load is read within


class LoadSlope:
    """The exponentially weighted sums a level's slope on load is told from."""

    __slots__ = ("_told", "sums")

    def __init__(self, sums: list[float] | None = None) -> None:
        self.sums = sums or [0.0] * 5  # Σw, Σw·x, Σw·x², Σw·r, Σw·x·r (x the log calls)
        self._told: tuple[float, float, float] | None = None  # slope, usual, reach: kept

    def offset(self, calls: float) -> float:
        """How far above the level at the usual load an interval of ``calls`` calls lies
        (log)."""
        slope, usual, reach = self._told or self._tell()
        return slope * max(-reach, min(reach, _x(calls) - usual)) if slope else 0.0

    def slope(self) -> float:
        """The level's rise per unit of log calls."""
        return (self._told or self._tell())[0]

    def usual(self) -> float:
        """The usual load (the mean log calls) the level is read at."""
        return (self._told or self._tell())[1]

    def learn(self, calls: float, residual: float, weight: float, keep: float) -> float:
        """Take an interval's residual from the level in, after forgetting by ``keep``;
        how far the level at the usual load moved, as the usual load did."""
        before, x = self.usual(), _x(calls)
        for i, term in enumerate((1.0, x, x * x, residual, x * residual)):
            self.sums[i] = self.sums[i] * keep + weight * term
        self._told = None
        return self.slope() * (self.usual() - before)

    def _tell(self) -> tuple[float, float, float]:
        """The slope, the usual load and how far from it the slope is read, from the sums
        (kept until they change: an interval is judged several times over)."""
        weight, wx, wxx, wr, wxr = self.sums
        if weight <= 0:
            self._told = (0.0, 0.0, 0.0)
            return self._told
        usual, spread = wx / weight, max(wxx - wx * wx / weight, 0.0)
        slope = max(0.0, min(MAX_SLOPE, (wxr - wx * wr / weight) / (spread + PRIOR)))
        self._told = (slope, usual, REACH * math.sqrt(spread / weight))
        return self._told


def _x(calls: float) -> float:
    return math.log(max(calls, 1.0))
