"""An agent's day: how far each vital sits from its baseline hour by hour, learned over days.

Load follows the time of day, and with it a vital's level (calls are slower at the busy
hours) or a raw count (the work of a busy hour). A baseline that follows the level within
hours cannot tell such an hour's rise from a fault's, and a rise that comes back every
day would alarm every day. ``DailyProfile`` keeps, for each hour of the day (UTC), the
mean of the vital's log-distance from its baseline in that hour, learned as a running
mean over the first ``LEARN_DAYS`` days and an exponential one after; once an hour was
seen on ``JUDGED_AFTER_DAYS`` days, its vitals are judged against the baseline moved by
that hour's offset. The offsets are kept summing to zero, so that the baseline keeps the
vital's level and the profile only its shape. Once an hour was seen on ``LEARN_DAYS``
days, a fault of an hour moves its offset by at most a ``LEARN_DAYS``-th of ``CLIP`` (on
the first days, by its share of the days seen); a fault that comes back at the same hour
every day becomes, in about ``LEARN_DAYS`` days, part of the agent's day.
"""

import array
import math
from typing import Any

HOURS = 24
LEARN_DAYS = 7.0
JUDGED_AFTER_DAYS = 2.0
CLIP = math.log(4.0)  # the most one interval's distance counts, either way
SEEN_ENOUGH = JUDGED_AFTER_DAYS - 1e-6  # (days are added up in shares of an hour)
_FLAT = [0.0] * HOURS


def hour_of(time: float) -> int:
    """The hour of the day (UTC) of a Unix time."""
    return int(time // 3600.0) % HOURS


class DailyProfile:
    """One vital's offset from its baseline for each hour of the day, on the log scale."""

    __slots__ = ("days", "raw", "total")

    def __init__(self, offsets: list[float] | None = None, days: list[float] | None = None):
        # Arrays of doubles: a sidecar keeps one per agent and vital (4.6 KB an agent).
        self.raw = array.array("d", offsets or _FLAT)  # the offsets before their mean is out
        self.total = sum(self.raw)
        self.days = array.array("d", days or _FLAT)  # the days' worth of samples in each hour

    def at(self, hour: int) -> float:
        """The hour's offset, once the hour was seen on enough days (else 0)."""
        return self._offset(hour) if self.days[hour] >= SEEN_ENOUGH else 0.0

    def _offset(self, hour: int) -> float:
        return self.raw[hour] - self.total / HOURS  # the shape only: the level is the baseline's

    def learn(self, time: float, distance: float, interval_seconds: float) -> None:
        """Take in an interval's log-distance from the baseline (``interval_seconds`` long:
        the share of its hour's day it covers)."""
        hour = hour_of(time)
        share = min(1.0, max(interval_seconds, 1e-3) / 3600.0)
        days = self.days[hour] = self.days[hour] + share
        clipped = CLIP if distance > CLIP else -CLIP if distance < -CLIP else distance
        weight = share / (days if days < LEARN_DAYS else LEARN_DAYS)
        move = weight * (clipped - self._offset(hour))
        self.raw[hour] += move
        self.total += move

    @property
    def offsets(self) -> list[float]:
        """Every hour's offset (they sum to zero)."""
        return [self._offset(hour) for hour in range(HOURS)]

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file (the offsets before their mean is taken out), to
        five decimals: 48 figures an agent and vital, which full precision would triple."""
        return {"offsets": _rounded(self.raw), "days": _rounded(self.days)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "DailyProfile":
        """Restore from ``to_json`` output."""
        offsets, days = [float(x) for x in data["offsets"]], [float(x) for x in data["days"]]
        if len(offsets) != HOURS or len(days) != HOURS:
            return cls()
        return cls(offsets, days)


def _rounded(figures: array.array) -> list[float]:
    return [round(x, 5) for x in figures]
