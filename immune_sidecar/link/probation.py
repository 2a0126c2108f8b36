"""Probation watches: after a release, count clean samples until healed or re-infected."""

import dataclasses
import threading


@dataclasses.dataclass
class Watch:
    """One released agent under watch."""

    command_id: str
    incident_id: str
    agent_id: str
    needed: int
    deadline: float
    seen: int = 0

    def passed(self, timed_out: bool) -> bool:
        """The one pass rule: ``needed`` clean samples; when time ran out first, any."""
        return self.seen >= (1 if timed_out else self.needed)


class Probation:
    """Watches by agent; each ends once, with a verdict the caller reports."""

    def __init__(self) -> None:
        self._watches: dict[str, Watch] = {}
        self._lock = threading.Lock()

    def start(self, watch: Watch) -> None:
        """Begin (or replace) the watch of an agent."""
        with self._lock:
            self._watches[watch.agent_id] = watch

    def clean(self, agent_id: str) -> Watch | None:
        """Count a clean sample; the finished watch when enough arrived."""
        with self._lock:
            watch = self._watches.get(agent_id)
            if watch is None:
                return None
            watch.seen += 1
            if not watch.passed(timed_out=False):
                return None
            return self._watches.pop(agent_id)

    def infected(self, agent_id: str) -> Watch | None:
        """End an agent's watch because it misbehaved again."""
        with self._lock:
            return self._watches.pop(agent_id, None)

    def overdue(self, now: float) -> list[tuple[Watch, bool]]:
        """End the watches whose time ran out, each with whether it passed."""
        with self._lock:
            done = [w for w in self._watches.values() if now >= w.deadline]
            for watch in done:
                del self._watches[watch.agent_id]
            return [(watch, watch.passed(timed_out=True)) for watch in done]
