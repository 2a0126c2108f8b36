"""Shared shifts: most of a sidecar's agents moving the same vital at once is one cause.

A provider slowing down, or a network hiccup, moves every agent that uses it
in the same interval. Each agent's detector would see its own anomaly; the
sidecar instead notes, for every sample, which vitals lie ``SHIFT_Z`` or more
above normal (a healthy agent's do one interval in six) or have a lasting sum
half way to its limit, and which it could not tell: not seen, or a per-call level
in too few calls to show a rise by ``TOLD_RISE`` at ``SHIFT_Z`` (an idle agent's
one call), whatever it showed. When at least ``share`` of the agents that reported
in the last interval and could tell the vital (and ``min_agents`` of them) shifted
it, an infection of that vital alone is a *shared shift*: reported, not held. Once
reported, and for as long as it holds (up to ``LINGER`` intervals after the last
report), the vital's shift is *explained*: the cause is known.

A shift holds for ``LATE_WINDOWS`` after the last interval its vote carried: an agent
whose samples come a window late (spans, whose interval closes after its end) still
shows the shift's last interval when the others show their first healthy one, and a
vote of the others' would make that interval its own fault.

Blindness is decided before the interval's value is looked at: were the idle agents
whose call happened to be high (one in six) to vote while the others kept out, a
busy agent's own fault would find a majority among its idle peers' noise.
"""

import math
import threading

SHIFT_Z = 1.0
# A provider's slowdown is a rise of a third or more. Agents whose interval could not show
# one (a batch agent's idle phase: a call or two) do not count against a shared shift.
TOLD_RISE = 4.0 / 3.0
_NONE: frozenset[str] = frozenset()
LINGER = 30  # intervals a reported shared shift is looked for after its last report
LATE_WINDOWS = 1.5  # a window late, give or take the exporters' clocks


class SharedShifts:
    """The latest shifted vitals of each agent, and whether a vital moved fleet-wide."""

    def __init__(self, share: float = 0.5, min_agents: int = 5) -> None:
        self._share, self._min = share, min_agents
        self._latest: dict[str, tuple[float, frozenset[str], frozenset[str]]] = {}
        self._reported: dict[str, float] = {}  # vital → when last reported shared
        self._carried: dict[str, float] = {}  # vital → when its vote last carried
        self._lock = threading.Lock()

    def note(
        self, agent_id: str, now: float, shifted: frozenset[str], blind: frozenset[str] = _NONE
    ) -> None:
        """Record which vitals an agent's sample at ``now`` showed shifted, and which it
        could not tell (``blind``: no vote on them)."""
        with self._lock:
            self._latest[agent_id] = (now, shifted, blind)

    def forget(self, agent_id: str) -> None:
        """Drop an evicted agent."""
        with self._lock:
            self._latest.pop(agent_id, None)

    def shared(self, vitals: set[str], now: float, window: float) -> bool:
        """Whether every vital in ``vitals`` shifted on enough of the recent agents, now or
        within ``LATE_WINDOWS`` windows."""
        if not vitals or self._share <= 0:
            return False
        with self._lock:
            recent = [(s, b) for t, s, b in self._latest.values() if t >= now - window]
            return all(self._holds(vital, recent, now, window) for vital in vitals)

    def _holds(self, vital: str, recent, now: float, window: float) -> bool:
        """Whether the vital's vote carries now, or carried lately (then noted)."""
        if self._enough(vital, recent):
            self._carried[vital] = now
            return True
        return self._carried.get(vital, -math.inf) >= now - LATE_WINDOWS * window

    def _enough(self, vital: str, recent: list[tuple[frozenset[str], frozenset[str]]]) -> bool:
        """Whether enough of the agents that could tell ``vital`` shifted it."""
        voters = [shifted for shifted, blind in recent if vital not in blind]
        needed = max(self._min, self._share * len(voters))
        return sum(vital in shifted for shifted in voters) >= needed

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
