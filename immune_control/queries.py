"""Read-side views for the API: agents with derived status, incidents, memory, stats."""

import dataclasses
from collections.abc import Sequence

from .control import Control
from .errors import NotFound
from .memory import MemoryEntry
from .model import AgentInfo, Event, Incident, Sample


@dataclasses.dataclass(frozen=True)
class AgentView:
    """An agent with its derived status and open incident."""

    info: AgentInfo
    status: str
    open_incident_id: str


@dataclasses.dataclass(frozen=True)
class Stats:
    """Fleet-wide figures for the console header and GetStats."""

    agents_total: int
    agents_by_status: dict[str, int]
    samples_total: int
    infections_total: int
    incidents_open: int
    healed_total: int
    success_rate: float
    pending_approvals: int
    rejected: int
    uptime_seconds: float
    sidecars_connected: int
    last_event_sequence: int


class Queries:
    """Reads over control's ledger and store."""

    def __init__(self, control: Control) -> None:
        self._control = control
        self._ledger = control.ledger
        self._store = control.store

    def agents(self, status: str = "", query: str = "") -> list[AgentView]:
        """Agents sorted by id, filtered by derived status and a substring."""
        now = self._control.clock()
        with self._ledger.lock:
            views = [self._view(a, now) for a in self._ledger.agents.values()]
        needle = query.lower()
        return sorted(
            (v for v in views if (not status or v.status == status) and _matches(v.info, needle)),
            key=lambda v: v.info.id,
        )

    def agent(self, agent_id: str) -> AgentView:
        """One agent; NotFound when control never heard of it."""
        with self._ledger.lock:
            info = self._ledger.agents.get(agent_id)
            if info is None:
                raise NotFound(f"no agent {agent_id!r}")
            return self._view(info, self._control.clock())

    def samples(self, agent_id: str, limit: int) -> list[Sample]:
        """An agent's recent vital samples, oldest first."""
        return self._store.samples(agent_id, limit)

    def incident(self, incident_id: str) -> tuple[Incident, list[Event]]:
        """An incident and its timeline."""
        incident = self._ledger.get(incident_id) or self._store.incident(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id!r}")
        return incident, self._store.events(incident_id=incident_id)

    def incidents(self, states: Sequence[str], agent_id: str, limit: int, offset: int):
        """A page of incidents, newest first, and the total that matched."""
        return self._store.incidents(states, agent_id, limit, offset)

    def memory(self, agent_id: str = "", diagnosis: str = "") -> list[MemoryEntry]:
        """Immune memory of the fleet (agent empty) or of one agent."""
        return self._control.memory.entries(agent_id, diagnosis)

    def stats(self) -> Stats:
        """Figures for GetStats."""
        now = self._control.clock()
        views = self.agents()
        by_status: dict[str, int] = {}
        for v in views:
            by_status[v.status] = by_status.get(v.status, 0) + 1
        open_states = [i.state for i in self._ledger.incidents.values()]
        infections, healed, finished, won = self._store.totals()
        silence = self._control.config.sidecar_silence_seconds
        return Stats(
            len(views),
            by_status,
            sum(v.info.samples for v in views),
            infections,
            len(open_states),
            healed,
            won / finished if finished else 0.0,
            open_states.count("pending_approval"),
            open_states.count("rejected"),
            now - self._control.started,
            sum(
                1
                for s in self._ledger.sidecars.values()
                if s.disconnect_time is None and not s.silent(now, silence)
            ),
            self._ledger.events.last_sequence,
        )

    def _view(self, info: AgentInfo, now: float) -> AgentView:
        incident = self._ledger.open_for(info.id)
        return AgentView(
            info, self._ledger.agent_status(info, now), incident.id if incident else ""
        )


def _matches(info: AgentInfo, needle: str) -> bool:
    if not needle:
        return True
    fields = (info.id, info.name, info.model, info.provider, *info.tools, *info.mcp_servers)
    return any(needle in f.lower() for f in fields)
