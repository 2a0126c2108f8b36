"""An agent's day and week: how far each vital sits from its baseline hour by hour.

Load follows the time of day, and with it a vital's level (calls are slower at the busy
hours) or a raw count (the work of a busy hour); many agents' weekends differ from their
weekdays too. A baseline that follows the level within hours cannot tell such an hour's
rise from a fault's, a rise that comes back every day would alarm every day, and Monday
morning would alarm after a quiet weekend.

``HourlyProfile`` keeps, for each hour of the day (UTC), the mean of the vital's
log-distance from its baseline in that hour, learned as a running mean over the first
``LEARN_DAYS`` days and an exponential one after; once an hour was seen on
``JUDGED_AFTER`` days, its vitals are judged against the baseline moved by that hour's
offset. The offsets are kept summing to zero, so that the baseline keeps the vital's level
and the profile only its shape. Once an hour was seen on ``LEARN_DAYS`` days, a fault of an
hour moves its offset by at most a ``LEARN_DAYS``-th of ``CLIP`` (on the first days, by its
share of the days seen); a fault that comes back at the same hour every day becomes, in
about ``LEARN_DAYS`` days, part of the agent's day.

The week is what is left: for each of its 168 hours, the mean of how far the vital sits
from its mean over the last seven days, beyond the hour of the day's offset; learned the
same way over ``LEARN_WEEKS`` weeks, kept summing to zero, and added to the day's offset
once that hour of the week was seen in ``JUDGED_AFTER`` weeks (so from the third week on).
It is learned against the seven days' mean, not against the baseline: the baseline
follows a quiet weekend down within hours, and an hour's distance from it would tell the
weekend's first hours only (and Monday's, as a rise). An hour of the week is judged only
where its latest visit (that hour, a week before) agrees in sign, and by the smaller of the
two: a fault's hour in an early week weighs a half after two weeks, and the week after a
lasting level shift (which the seven days' mean lags) is learned by every hour; neither
comes back the week after. The week's hours start on the Unix
epoch's (a Thursday, UTC): any fixed start serves, since each is learned on its own.
"""

import array
import math
from typing import Any

HOURS = 24
DAYS = 7
WEEK = DAYS * HOURS
LEARN_DAYS = 7.0
LEARN_WEEKS = 4.0
JUDGED_AFTER = 2.0  # days an hour of the day, or weeks an hour of the week, was seen
SHRINK = 4.0  # an hour of the week's offset is shrunk by this many times its variance
# The most one interval's distance counts beyond its hour's offset, either way (about the
# offset, not the baseline: a night hour 9× below the day's is learned in full).
CLIP = math.log(4.0)
SEEN_ENOUGH = JUDGED_AFTER - 1e-6  # (days and weeks are added up in shares of an hour)
_FLAT_DAY, _FLAT_WEEK, _FLAT_DAYS = [0.0] * HOURS, [0.0] * WEEK, [0.0] * (2 * DAYS + 1)


def hour_of(time: float) -> int:
    """The hour of the day (UTC) of a Unix time."""
    return int(time // 3600.0) % HOURS


def hour_of_week(time: float) -> int:
    """The hour of the week of a Unix time, counted from Thursday 00:00 UTC."""
    return int(time // 3600.0) % WEEK


class HourlyProfile:
    """One vital's offset from its baseline for each hour of the day and of the week, on
    the log scale."""

    __slots__ = (
        "_totals", "days", "last_days", "latest_hour", "noise", "raw", "total", "visit",
        "week", "week_total", "weeks",
    )  # fmt: skip

    def __init__(
        self,
        offsets: list[float] | None = None,
        days: list[float] | None = None,
        week: list[float] | None = None,
        weeks: list[float] | None = None,
        last_days: list[float] | None = None,
        noise: list[float] | None = None,
        visit: tuple[list[float], ...] = (),
        latest_hour: float = -1.0,
    ):
        # Arrays of doubles (the visits: floats): one per agent and vital (~5 KB each).
        self.raw = array.array("d", offsets or _FLAT_DAY)  # the offsets before their mean is out
        self.total = sum(self.raw)
        self.days = array.array("d", days or _FLAT_DAY)  # the days' worth of samples in each hour
        self.week = array.array("d", week or _FLAT_WEEK)  # beyond the hour of the day's offset
        self.week_total = sum(self.week)
        self.weeks = array.array("d", weeks or _FLAT_WEEK)  # the weeks' worth of samples
        # The last seven days' sums of where the vital sat and of the hours they cover, and
        # the day they reach to: their mean is what the week is learned against.
        self.last_days = array.array("d", last_days or _FLAT_DAYS)
        self._totals = [sum(self.last_days[0:-1:2]), sum(self.last_days[1::2])]
        # The variance of an hour's worth of intervals about the week's offsets, and the
        # hours it was learned over.
        self.noise = array.array("d", noise or [0.0, 0.0])
        # Each hour of the week's distance in its latest whole visit, and in the visit under
        # way (with the share of its hour seen): an hour of the week is judged only where its
        # latest visit agrees (a fault's visit, or the week after a shift, does not repeat).
        self.visit = tuple(array.array("f", a) for a in (visit or (_FLAT_WEEK,) * 3))
        self.latest_hour = latest_hour

    def at(self, time: float) -> float:
        """The offset at ``time``: its hour of the day's, once seen on enough days (else 0),
        and its hour of the week's beyond it, once seen in enough weeks."""
        hours = int(time // 3600.0)
        hour, weekly = hours % HOURS, hours % WEEK
        if self.days[hour] < SEEN_ENOUGH:
            return 0.0
        offset = self.raw[hour] - self.total / HOURS
        seen = self.weeks[weekly]
        return offset if seen < SEEN_ENOUGH else offset + self._beyond(weekly, seen)

    def _beyond(self, weekly: int, seen: float) -> float:
        """The hour of the week's offset beyond the day's, shrunk by its noise (James and
        Stein's positive part, none left within two standard deviations): an hour of the
        week is seen a few times a week, and on a vital without a weekly pattern its noise
        alone would blunt or sharpen the test."""
        beyond = self.week[weekly] - self.week_total / WEEK
        variance = self.noise[0] / (seen if seen < 2 * LEARN_WEEKS else 2 * LEARN_WEEKS)
        squared, latest = beyond * beyond, self.visit[0][weekly]
        if squared <= SHRINK * variance or beyond * latest <= 0.0:
            return 0.0
        shrunk = beyond - beyond * SHRINK * variance / squared
        return shrunk if abs(shrunk) < abs(latest) else latest

    def _offset(self, hour: int) -> float:
        return self.raw[hour] - self.total / HOURS  # the shape only: the level is the baseline's

    def learn(self, time: float, distance: float, interval_seconds: float, level: float) -> None:
        """Take in an interval's log-distance from the baseline, whose level (log) is
        ``level`` (``interval_seconds`` long: the share of its hour's day, and of its hour's
        week, it covers). Each hour's offset is a running mean until its most, then an
        exponential one (the weight ``share / min(seen, most)``)."""
        hours = int(time // 3600.0)
        hour, weekly = hours % HOURS, hours % WEEK
        share = 1.0 if interval_seconds >= 3600.0 else max(interval_seconds, 1e-3) / 3600.0
        offset = self.raw[hour] - self.total / HOURS
        apart = distance - offset
        clipped = offset + (CLIP if apart > CLIP else -CLIP if apart < -CLIP else apart)
        seen = self.days[hour] = self.days[hour] + share
        move = share / (seen if seen < LEARN_DAYS else LEARN_DAYS) * (clipped - offset)
        self.raw[hour] += move
        self.total += move
        position = level + clipped
        beyond = position - self._seven_days(time, position, share) - offset - self.week[weekly]
        seen = self.weeks[weekly] = self.weeks[weekly] + share
        move = share / (seen if seen < LEARN_WEEKS else LEARN_WEEKS) * beyond
        self.week[weekly] += move
        self.week_total += move
        self._visit(hours, weekly, beyond + self.week[weekly] - move, share)
        noise = self.noise  # an hour's worth of intervals' variance about the week's offsets
        seen = noise[1] = noise[1] + share
        noise[0] += share / (seen if seen < WEEK else WEEK) * (beyond * beyond * share - noise[0])

    def _visit(self, hours: int, weekly: int, distance: float, share: float) -> None:
        """Add an interval's distance beyond the day's to its hour of the week's visit."""
        latest, now, shares = self.visit
        if hours > self.latest_hour:  # a new hour: the visit before is whole
            self.latest_hour = hours
            latest[weekly], now[weekly], shares[weekly] = now[weekly], 0.0, 0.0
        elif hours < self.latest_hour:
            return  # late: its visit is over
        seen = shares[weekly] = shares[weekly] + share
        now[weekly] += share / seen * (distance - now[weekly])

    def _seven_days(self, time: float, position: float, share: float) -> float:
        """Add where the vital sat to its day's sums; the mean over the last seven days."""
        sums, day, totals = self.last_days, time // 86400.0, self._totals
        if day > sums[-1]:
            self._new_day(day)
        elif day <= sums[-1] - DAYS:  # late by more than the seven days: not counted
            return self._mean
        slot = 2 * (int(day) % DAYS)
        sums[slot] += position * share
        sums[slot + 1] += share
        totals[0] += position * share
        totals[1] += share
        return totals[0] / totals[1]

    @property
    def _mean(self) -> float:
        return self._totals[0] / self._totals[1] if self._totals[1] > 0 else 0.0

    def _new_day(self, day: float) -> None:
        """Forget the days a week or more before ``day``."""
        sums, last = self.last_days, int(self.last_days[-1])
        for gone in range(max(last + 1, int(day) - DAYS + 1), int(day) + 1):
            sums[2 * (gone % DAYS)] = sums[2 * (gone % DAYS) + 1] = 0.0
        sums[-1] = day
        self._totals[:] = [sum(sums[0:-1:2]), sum(sums[1::2])]  # in place: read before

    @property
    def offsets(self) -> list[float]:
        """Every hour of the day's offset (they sum to zero)."""
        return [self._offset(hour) for hour in range(HOURS)]

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file (the day's offsets before their mean is taken
        out), to five decimals: full precision would triple a state file's figures."""
        return {
            "offsets": _rounded(self.raw),
            "days": _rounded(self.days),
            "week": _rounded(self.week),
            "weeks": _rounded(self.weeks),
            "last_days": _rounded(self.last_days),
            "noise": list(self.noise),  # in full: an hour's variance is a few 1e-5
            "visit": [_rounded(a) for a in self.visit],
            "latest_hour": self.latest_hour,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "HourlyProfile":
        """Restore from ``to_json`` output (a day without its week: written before weeks)."""
        day = [float(x) for x in data["offsets"]], [float(x) for x in data["days"]]
        week = [float(x) for x in data.get("week", _FLAT_WEEK)]
        weeks = [float(x) for x in data.get("weeks", _FLAT_WEEK)]
        last_days = [float(x) for x in data.get("last_days", _FLAT_DAYS)]
        noise = [float(x) for x in data.get("noise", (0.0, 0.0))]
        if any(len(x) != HOURS for x in day) or len(week) != WEEK or len(weeks) != WEEK:
            return cls()
        visit = tuple([float(x) for x in a] for a in data.get("visit", ()))
        if len(last_days) != len(_FLAT_DAYS) or len(noise) != 2:
            return cls()
        if len(visit) != 3 or any(len(a) != WEEK for a in visit):
            visit = ()
        return cls(*day, week, weeks, last_days, noise, visit, float(data.get("latest_hour", -1)))


def _rounded(figures: array.array) -> list[float]:
    return [round(x, 5) for x in figures]
