"""The quarantine book: which agents are contained, why, and until when.

State is derived from timestamps, never from flags kept in sync: an agent is
quarantined while ``now < until`` (or indefinitely when ``until`` is None,
i.e. control decides), on probation for ``probation_seconds`` after that, and
healthy afterwards. In standalone mode release follows Envoy's outlier
ejection: the time out is ``base × ejections`` up to a maximum, and the
ejection count decays by one for every base period the agent stays clean.
"""

import dataclasses
import math
import threading
from collections.abc import Callable
from typing import ClassVar

from immune_common.config import Range, check_ranges

QUARANTINED, PROBATION, HEALTHY = "quarantined", "probation", "healthy"


@dataclasses.dataclass(frozen=True)
class EjectionPolicy:
    """Standalone release timing, after Envoy's outlier detection."""

    base_seconds: float = 30.0
    max_seconds: float = 300.0
    probation_seconds: float = 60.0

    RANGES: ClassVar[dict[str, Range]] = {
        "base_seconds": (0.0, 31_536_000.0),
        "max_seconds": (0.0, 31_536_000.0),
        "probation_seconds": (0.0, 31_536_000.0),
    }

    def __post_init__(self) -> None:
        check_ranges(self, "ejection.")

    def duration(self, ejections: int) -> float:
        """How long the ``ejections``-th ejection in a row lasts."""
        return min(self.base_seconds * ejections, self.max_seconds)

    def decayed(self, ejections: int, clean_seconds: float) -> int:
        """The ejection count after ``clean_seconds`` without a new one."""
        if self.base_seconds <= 0:
            return 0
        return max(0, ejections - int(max(0.0, clean_seconds) // self.base_seconds))


@dataclasses.dataclass(frozen=True)
class Ejection:
    """One agent's quarantine record."""

    agent_id: str
    reason: str
    anomaly_types: tuple[str, ...]
    severity: float
    infection_id: str
    since: float
    until: float | None
    ejections: int
    probation_seconds: float = 0.0
    # Control waived this quarantine (fleet cap): the agent serves while still infected.
    waived: bool = False

    def state(self, now: float) -> str:
        """Quarantined, on probation, or healthy at ``now``."""
        if self.until is None or now < self.until:
            return QUARANTINED
        if now < self.until + self.probation_seconds:
            return PROBATION
        return HEALTHY

    def to_json(self) -> dict:
        """A plain dict for the state file and the admin API."""
        data = dataclasses.asdict(self)
        data["anomaly_types"] = list(self.anomaly_types)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Ejection":
        """Restore from ``to_json`` output; ``TypeError`` or ``ValueError`` for a field not
        of its kind (a damaged record would fail every look at the agent's state)."""
        entry = cls(**{**data, "anomaly_types": tuple(data["anomaly_types"])})
        texts = (entry.agent_id, entry.reason, entry.infection_id, *entry.anomaly_types)
        if not all(isinstance(text, str) for text in texts) or type(entry.waived) is not bool:
            raise TypeError(f"a quarantine record of the wrong kinds: {data!r}")
        times = (entry.severity, entry.since, entry.probation_seconds)
        if not all(map(_finite, (*times, *(() if entry.until is None else (entry.until,))))):
            raise ValueError(f"a quarantine record with a time or severity not a number: {data!r}")
        if type(entry.ejections) is not int or entry.ejections < 0:
            raise ValueError(f"a quarantine record's ejections must be a count: {data!r}")
        return entry


class QuarantineBook:
    """Ejections by agent; ``on_change`` is called with a snapshot after each change."""

    def __init__(
        self,
        policy: EjectionPolicy | None,
        on_change: Callable[[list[dict]], None] | None = None,
    ) -> None:
        self._policy = policy
        self._on_change = on_change
        self._ejections: dict[str, Ejection] = {}
        self._lock = threading.Lock()

    def eject(
        self,
        agent_id: str,
        reason: str,
        types: tuple[str, ...],
        severity: float,
        infection_id: str,
        now: float,
    ) -> Ejection:
        """Quarantine an agent now; a repeat ejection lasts longer (standalone mode)."""
        with self._lock:
            prev = self._ejections.get(agent_id)
            count = self._count(prev, now) + 1
            until, probation = self._timing(count, now)
            entry = Ejection(
                agent_id, reason, types, severity, infection_id, now, until, count, probation
            )
            self._ejections[agent_id] = entry
        self._changed()
        return entry

    @property
    def standalone(self) -> bool:
        """Whether releases follow the local timer (no control decides them)."""
        return self._policy is not None

    def release(self, agent_id: str, now: float, probation_seconds: float = 0.0) -> bool:
        """End an agent's quarantine (or its waiver) now, control's decision; False if neither."""
        with self._lock:
            prev = self._ejections.get(agent_id)
            if prev is None or (prev.state(now) != QUARANTINED and not prev.waived):
                return False
            self._ejections[agent_id] = dataclasses.replace(
                prev, until=now, probation_seconds=probation_seconds, waived=False
            )
        self._changed()
        return True

    def waive(self, agent_id: str, reason: str, infection_id: str, now: float) -> bool:
        """Let an agent serve though infected (control's fleet cap); True if it was held.

        Until control releases or quarantines it, new anomalies are reported, not held.
        """
        with self._lock:
            prev = self._ejections.get(agent_id)
            held = prev is not None and prev.state(now) == QUARANTINED
            base = prev or Ejection(agent_id, reason, (), 0.0, infection_id, now, now, 0)
            self._ejections[agent_id] = dataclasses.replace(
                base, until=now, probation_seconds=0.0, waived=True
            )
        self._changed()
        return held

    def waived(self, agent_id: str) -> bool:
        """Whether control waived the agent's quarantine and has not decided since."""
        entry = self.get(agent_id)
        return entry is not None and entry.waived

    def get(self, agent_id: str) -> Ejection | None:
        """The agent's latest ejection, current or past."""
        with self._lock:
            return self._ejections.get(agent_id)

    def state(self, agent_id: str, now: float) -> str:
        """The agent's quarantine state at ``now``."""
        entry = self.get(agent_id)
        return entry.state(now) if entry else HEALTHY

    def held(self, now: float) -> list[Ejection]:
        """Every agent quarantined at ``now``."""
        with self._lock:
            return [e for e in self._ejections.values() if e.state(now) == QUARANTINED]

    def forget(self, agent_id: str, now: float) -> None:
        """Drop the record of an evicted agent unless it is still held."""
        with self._lock:
            entry = self._ejections.get(agent_id)
            if entry is not None and entry.state(now) == HEALTHY:
                del self._ejections[agent_id]

    def restore(self, entries: list[dict]) -> None:
        """Load the records written by ``on_change``: all, or if one is damaged, none."""
        restored = [Ejection.from_json(data) for data in entries]
        with self._lock:
            self._ejections.update((entry.agent_id, entry) for entry in restored)

    def _count(self, prev: Ejection | None, now: float) -> int:
        if prev is None:
            return 0
        if self._policy is None or prev.until is None or prev.until > now:
            return prev.ejections
        return self._policy.decayed(prev.ejections, now - prev.until)

    def _timing(self, count: int, now: float) -> tuple[float | None, float]:
        if self._policy is None:
            return None, 0.0
        return now + self._policy.duration(count), self._policy.probation_seconds

    def _changed(self) -> None:
        if self._on_change is None:
            return
        with self._lock:
            snapshot = [e.to_json() for e in self._ejections.values()]
        self._on_change(snapshot)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
