"""Immune memory: what each action achieved, per agent and across the fleet.

The counts are derived from finished healing actions (the store rebuilds them
from its action table at start), so they cannot drift from the healing log.
"""

import dataclasses
import threading
from collections.abc import Iterable

from .model import A_SUCCEEDED, HealingAction


@dataclasses.dataclass(frozen=True)
class MemoryEntry:
    """Attempts and successes of one action for one diagnosis (agent empty: fleet-wide)."""

    agent_id: str
    diagnosis: str
    action: str
    attempts: int
    successes: int
    last_attempt_time: float

    @property
    def success_rate(self) -> float:
        """Successes over attempts, 0 when never tried."""
        return self.successes / self.attempts if self.attempts else 0.0


class ImmuneMemory:
    """Counts by (agent, diagnosis) then action; the fleet's entries use the empty agent."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], dict[str, MemoryEntry]] = {}
        self._lock = threading.Lock()

    def record(self, action: HealingAction) -> None:
        """Count one finished action for its agent and for the fleet."""
        won = action.outcome == A_SUCCEEDED
        when = action.finish_time or action.start_time
        with self._lock:
            for agent in (action.agent_id, ""):
                actions = self._entries.setdefault((agent, action.diagnosis), {})
                old = actions.get(action.action) or MemoryEntry(
                    agent, action.diagnosis, action.action, 0, 0, 0.0
                )
                actions[action.action] = dataclasses.replace(
                    old,
                    attempts=old.attempts + 1,
                    successes=old.successes + won,
                    last_attempt_time=max(old.last_attempt_time, when),
                )

    def failed(self, agent_id: str, diagnosis: str) -> set[str]:
        """Actions that were tried on this agent for this diagnosis and never cured it."""
        with self._lock:
            actions = self._entries.get((agent_id, diagnosis), {})
            return {name for name, e in actions.items() if e.attempts and not e.successes}

    def rank(self, ladder: Iterable[str], agent_id: str, diagnosis: str) -> list[str]:
        """The ladder without this agent's failures, best fleet success rate first.

        Untried actions count as an even chance (Laplace's rule), and equal
        rates keep the ladder's order, so a new fleet follows the policy as written.
        """
        failed = self.failed(agent_id, diagnosis)
        kept = [a for a in ladder if a not in failed]
        with self._lock:
            fleet = self._entries.get(("", diagnosis), {})
            odds = {a: _odds(fleet.get(a)) for a in kept}
        return sorted(kept, key=lambda a: -odds[a])

    def entries(self, agent_id: str = "", diagnosis: str = "") -> list[MemoryEntry]:
        """The entries of one agent (empty: the fleet), optionally of one diagnosis."""
        with self._lock:
            found = [
                e
                for (a, d), actions in self._entries.items()
                if a == agent_id and (not diagnosis or d == diagnosis)
                for e in actions.values()
            ]
        return sorted(found, key=lambda e: (e.diagnosis, -e.success_rate, e.action))


def _odds(entry: MemoryEntry | None) -> float:
    if entry is None:
        return 0.5
    return (entry.successes + 1) / (entry.attempts + 2)
