"""Fleet-wide judgement: shared anomalies mean an external cause; a cap on quarantines."""

import collections
import dataclasses
import math
import threading
from typing import ClassVar

from immune_common.config import ConfigError, Range, check_ranges


@dataclasses.dataclass(frozen=True)
class FleetSettings:
    """When a shared anomaly is external, and how much of the fleet may be held at once."""

    # Share of the fleet showing one anomaly type within the window that makes it external.
    correlation_share: float = 0.5
    correlation_window_seconds: float = 120.0
    # Below this many agents, correlation is not judged (too few to tell).
    min_fleet_size: int = 4
    # Share of the fleet that may be quarantined at once; at least one agent always may.
    max_quarantined_share: float = 0.3

    RANGES: ClassVar[dict[str, Range]] = {
        "correlation_window_seconds": (1.0, 86_400.0),
        "min_fleet_size": (1, 1_000_000),
    }

    def __post_init__(self) -> None:
        check_ranges(self, "fleet.")
        for key in ("correlation_share", "max_quarantined_share"):
            if not 0.0 < getattr(self, key) <= 1.0:
                raise ConfigError(f"fleet.{key}: must be in (0, 1], got {getattr(self, key)}")

    def quarantine_allowed(self, held: int, fleet_size: int) -> bool:
        """Whether one more agent may be held when ``held`` of ``fleet_size`` already are."""
        limit = max(1, math.floor(self.max_quarantined_share * fleet_size))
        return held + 1 <= limit


class Correlator:
    """Recent (time, agent) per anomaly type, to tell a fleet-wide cause from a local one."""

    def __init__(self, settings: FleetSettings) -> None:
        self._settings = settings
        self._seen: dict[str, collections.deque[tuple[float, str]]] = collections.defaultdict(
            collections.deque
        )
        # Per type, how many of the window's entries each agent has (kept with the deque).
        self._counts: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self._lock = threading.Lock()

    def note(self, agent_id: str, types: tuple[str, ...], now: float, fleet_size: int) -> str:
        """Record an infection; return the anomaly type now shared fleet-wide, or ''."""
        with self._lock:
            shared = ""
            for kind in types:
                counts = self._recent(kind, now)
                counts[agent_id] += 1
                self._seen[kind].append((now, agent_id))
                if not shared and self._is_shared(len(counts), fleet_size):
                    shared = kind
            return shared

    def agents(self, kind: str, now: float) -> set[str]:
        """Agents that showed ``kind`` within the window."""
        with self._lock:
            return set(self._recent(kind, now))

    def _recent(self, kind: str, now: float) -> collections.Counter[str]:
        seen, counts = self._seen[kind], self._counts[kind]
        while seen and seen[0][0] < now - self._settings.correlation_window_seconds:
            _, agent = seen.popleft()
            counts[agent] -= 1
            if not counts[agent]:
                del counts[agent]
        return counts

    def _is_shared(self, count: int, fleet_size: int) -> bool:
        if fleet_size < self._settings.min_fleet_size:
            return False
        return count >= self._settings.correlation_share * fleet_size
