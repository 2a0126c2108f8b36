"""Shared shifts: most of a sidecar's agents moving the same vital at once is one cause.

A provider slowing down, or a network hiccup, moves every agent that uses it
in the same interval. Each agent's detector would see its own anomaly; the
sidecar instead notes, for every sample, which vitals lie ``SHIFT_Z`` or more
above normal (a healthy agent's do one interval in six) or have a lasting sum
half way to its limit, and when at least
``share`` of the agents that reported in the last interval (and
``min_agents`` of them) shifted the same vital, an infection of that vital
alone is a *shared shift*: reported, not held. Once reported, and for as long as
it holds (up to ``LINGER`` intervals after the last report), the vital's shift is
*explained*: the cause is known.
"""

import threading

SHIFT_Z = 1.0
LINGER = 30  # intervals a reported shared shift is looked for after its last report


class SharedShifts:
    """The latest shifted vitals of each agent, and whether a vital moved fleet-wide."""

    def __init__(self, share: float = 0.5, min_agents: int = 5) -> None:
        self._share, self._min = share, min_agents
        self._latest: dict[str, tuple[float, frozenset[str]]] = {}
        self._reported: dict[str, float] = {}  # vital → when last reported shared
        self._lock = threading.Lock()

    def note(self, agent_id: str, now: float, shifted: frozenset[str]) -> None:
        """Record which vitals an agent's sample at ``now`` showed shifted."""
        with self._lock:
            self._latest[agent_id] = (now, shifted)

    def forget(self, agent_id: str) -> None:
        """Drop an evicted agent."""
        with self._lock:
            self._latest.pop(agent_id, None)

    def shared(self, vitals: set[str], now: float, window: float) -> bool:
        """Whether every vital in ``vitals`` shifted on enough of the recent agents."""
        if not vitals or self._share <= 0:
            return False
        with self._lock:
            recent = [s for t, s in self._latest.values() if t >= now - window]
        needed = max(self._min, self._share * len(recent))
        return all(sum(v in s for s in recent) >= needed for v in vitals)

    def report(self, vitals: set[str], now: float) -> None:
        """Note that a shift of ``vitals`` was reported shared at ``now``."""
        with self._lock:
            self._reported.update(dict.fromkeys(vitals, now))

    def explaining(self, now: float, window: float) -> frozenset[str]:
        """The vitals reported shared lately and still shared now."""
        with self._lock:
            since = now - LINGER * window
            lately = [v for v, at in self._reported.items() if at >= since]
        return frozenset(v for v in lately if self.shared({v}, now, window))
