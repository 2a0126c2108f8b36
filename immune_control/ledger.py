"""Control's working state: open incidents, agents and sidecars, changed only in transactions.

Every change runs inside ``change()``: the store writes, events and commands
join one DuckDB transaction, and the in-memory maps, watchers and sidecars
only see the change after it committed. A failed write leaves both as they were.
"""

import contextlib
import dataclasses
import functools
import itertools
import math
import threading
from collections.abc import Callable, Iterable, Iterator

from .commands import Command, Courier, Unacked
from .config import ControlConfig
from .errors import IllegalTransition
from .events import EventLog
from .model import (
    HEALING,
    PROBATION,
    TRANSITIONS,
    AgentInfo,
    AuditEntry,
    HealingAction,
    Incident,
)
from .store import Store


@dataclasses.dataclass(frozen=True)
class SidecarState:
    """A sidecar's link, by timestamps: silent once it has not spoken for a while."""

    id: str
    version: str
    connect_time: float
    last_message_time: float
    disconnect_time: float | None = None

    def silent(self, now: float, silence_seconds: float) -> bool:
        """Whether it has said nothing for ``silence_seconds``."""
        return now - self.last_message_time > silence_seconds


class AgentBook(dict[str, AgentInfo]):
    """Known agents by id, and the ids each sidecar serves, kept in step on every write."""

    def __init__(self, agents: Iterable[AgentInfo] = ()) -> None:
        super().__init__()
        self.by_sidecar: dict[str, set[str]] = {}
        for agent in agents:
            self[agent.id] = agent

    def __setitem__(self, agent_id: str, agent: AgentInfo) -> None:
        old = self.get(agent_id)
        if old is not None and old.sidecar_id != agent.sidecar_id:
            self.by_sidecar[old.sidecar_id].discard(agent_id)
        self.by_sidecar.setdefault(agent.sidecar_id, set()).add(agent_id)
        super().__setitem__(agent_id, agent)


class Ledger:
    """Open incidents by id and agent, known agents and sidecars; one lock, one transaction."""

    def __init__(
        self,
        config: ControlConfig,
        store: Store,
        courier: Courier,
        clock: Callable[[], float],
    ) -> None:
        self.config, self.store, self.courier, self.clock = config, store, courier, clock
        self.events = EventLog(store, clock)
        self.lock = threading.RLock()
        self.incidents: dict[str, Incident] = {}
        self.by_agent: dict[str, str] = {}
        self.agents = AgentBook(store.agents())
        self.sidecars: dict[str, SidecarState] = {}
        self.unacked = Unacked(store.unacked_commands())
        self._undo: list[Callable[[], None]] = []  # of in-memory changes, if a change fails
        self._audit_sequence = itertools.count(store.last_sequence("audit") + 1)
        self._pending: dict[str, Incident] = {}
        self._created: set[str] = set()  # ids of this change's new incidents
        self._after: list[Callable[[], None]] = []
        self._depth = 0
        self._reachable: tuple[tuple, int] = ((), 1)
        self._held = 0  # agents the committed open incidents hold
        for incident in store.open_incidents(("healed", "dismissed", "merged")):
            self._index(incident)

    @contextlib.contextmanager
    def change(self) -> Iterator[None]:
        """One atomic change; a nested one is a savepoint that, failing, leaves the outer intact."""
        with self.lock:
            if self._depth:
                with self._savepoint():
                    yield
                return
            self._depth = 1
            try:
                with self.store.transaction():
                    yield
                    self._write()
            except BaseException:
                self._pending.clear()
                self._created.clear()
                self._after.clear()
                self.events.rewind(0)
                self._rewind(0)
                raise
            finally:
                self._depth = 0
            self._undo.clear()
            self._commit()

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        pending, after, events = dict(self._pending), len(self._after), self.events.mark()
        undo = len(self._undo)
        self._depth += 1
        try:
            with self.store.transaction():
                yield
        except BaseException:
            self._pending = pending
            del self._after[after:]
            self.events.rewind(events)
            self._rewind(undo)
            raise
        finally:
            self._depth -= 1

    def _rewind(self, mark: int) -> None:
        while len(self._undo) > mark:
            self._undo.pop()()

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the current change has committed."""
        self._after.append(fn)

    def get(self, incident_id: str) -> Incident | None:
        """An open incident as the current change sees it."""
        return self._pending.get(incident_id) or self.incidents.get(incident_id)

    def open_for(self, agent_id: str) -> Incident | None:
        """The agent's open incident (its own, or the fleet incident it belongs to)."""
        pending = [i for i in self._pending.values() if agent_id in i.members]
        if pending:
            return pending[-1] if pending[-1].open else None
        incident_id = self.by_agent.get(agent_id)
        return self.incidents.get(incident_id) if incident_id else None

    def create(self, incident: Incident) -> Incident:
        """Keep a new incident (never stored before) in the current change."""
        self._created.add(incident.id)
        return self.put(incident)

    def put(self, incident: Incident) -> Incident:
        """Keep an incident's new version; the change writes its last version once, at the end."""
        self._pending[incident.id] = incident
        return incident

    def transition(
        self,
        incident: Incident,
        state: str,
        kind: str,
        *,
        actor: str = "system",
        reason: str = "",
        message: str = "",
        **changes,
    ) -> Incident:
        """Move an incident to ``state``, storing the event that says so; a move the
        lifecycle does not allow is an error, and nothing is written."""
        if state not in TRANSITIONS[incident.state]:
            raise IllegalTransition(
                f"incident {incident.id} cannot move from {incident.state} to {state}"
            )
        now = self.clock()
        updated = dataclasses.replace(incident, state=state, update_time=now, **changes)
        self.events.append(
            kind,
            time=now,
            incident_id=incident.id,
            agent_id=incident.agent_id,
            actor=actor,
            reason=reason,
            from_state=incident.state,
            to_state=state,
            message=message,
        )
        return self.put(updated)

    def note(self, incident: Incident, kind: str, message: str, **fields) -> None:
        """Store an event on an incident without changing its state."""
        self.events.append(
            kind,
            incident_id=incident.id,
            agent_id=fields.pop("agent_id", incident.agent_id),
            from_state=incident.state,
            to_state=incident.state,
            message=message,
            **fields,
        )

    def save_action(self, incident: Incident, action: HealingAction) -> Incident:
        """Store one action's new version on its incident."""
        return self.put(incident.with_action(action))

    def send(self, command: Command) -> None:
        """Keep a command for its sidecar in the current change; deliver it after commit."""
        self.keep(command)
        self.after_commit(lambda: self.courier.deliver(command))

    def keep(self, command: Command) -> None:
        """Store a command until its sidecar acks it, in the current change."""
        self.store.add_command(command, self.clock())
        self.unacked.add(command)
        self._undo.append(lambda: self.unacked.drop(command))

    def acked(self, sidecar_id: str, command_ids: Iterable[str]) -> None:
        """The sidecar's acks, in the current change: only its unacked commands count (an
        ack of an unknown, acked or another sidecar's command changes nothing)."""
        done = self.unacked.waiting(sidecar_id, command_ids)
        self.store.ack_commands([c.id for c in done], self.clock())
        for command in done:
            self.unacked.drop(command)
            self._undo.append(functools.partial(self.unacked.add, command))

    def sidecar_of(self, agent_id: str) -> str:
        """The sidecar that serves an agent ('' when unknown)."""
        agent = self.agents.get(agent_id)
        return agent.sidecar_id if agent else ""

    def save_agent(self, agent: AgentInfo) -> None:
        """Store an agent's record in the current change."""
        self.store.save_agent(agent)
        self.after_commit(lambda: self.agents.__setitem__(agent.id, agent))

    def adopt(self, agent_id: str, sidecar_id: str) -> None:
        """Note which sidecar serves an agent, creating the agent when it is new.

        The map changes at once, not after commit, so the rest of this change
        (fleet size, command routing) already counts the agent its sidecar reported.
        """
        known = self.agents.get(agent_id)
        if known is not None and (not sidecar_id or known.sidecar_id == sidecar_id):
            return
        now = self.clock()
        base = known or AgentInfo(agent_id, first_seen=now, last_seen=now)
        updated = dataclasses.replace(base, sidecar_id=sidecar_id or base.sidecar_id)
        self.store.save_agent(updated)
        self.agents[agent_id] = updated

    def audit(self, actor: str, role: str, method: str, target: str, reason: str, result: str):
        """Append one audit entry (its own transaction when none is open)."""
        entry = AuditEntry(
            next(self._audit_sequence), self.clock(), actor, role, method, target, reason, result
        )
        with self.store.transaction():
            self.store.add_audit(entry)

    def reachable_agents(self, now: float) -> int:
        """Agents whose sidecar still talks to control (at least 1, for shares).

        Counted by sidecar, and kept for the rest of the second: silence is judged over
        tens of seconds, and a new agent or sidecar recounts.
        """
        key = (math.floor(now), len(self.agents), len(self.sidecars))
        if self._reachable[0] != key:
            self._reachable = (key, max(1, self._count_reachable(now)))
        return self._reachable[1]

    def _count_reachable(self, now: float) -> int:
        silence, count = self.config.sidecar_silence_seconds, 0
        for sidecar_id, agent_ids in self.agents.by_sidecar.items():
            sidecar = self.sidecars.get(sidecar_id)
            if sidecar is not None:
                count += 0 if sidecar.silent(now, silence) else len(agent_ids)
            else:  # not heard from since control started: each agent by when it was seen
                count += sum(not self._silent(self.agents[a], now, silence) for a in agent_ids)
        return count

    def current(self) -> list[Incident]:
        """Every open incident as the current change sees it."""
        merged = {**self.incidents, **self._pending}
        return [i for i in merged.values() if i.open]

    def held(self) -> int:
        """Agents held in quarantine by control's decisions, as the current change sees it:
        the committed count, adjusted by this change's versions of incidents."""
        changed = sum(
            len(i.held) - len(self.incidents[i.id].held if i.id in self.incidents else ())
            for i in self._pending.values()
        )
        return self._held + changed

    def agent_status(self, agent: AgentInfo, now: float) -> str:
        """Derived status: unreachable, healing, probation, quarantined, or as reported."""
        if self._silent(agent, now, self.config.sidecar_silence_seconds):
            return "unreachable"
        incident = self.open_for(agent.id)
        if incident is None:
            return agent.reported_status
        if incident.state in (HEALING, PROBATION) and not incident.fleet:
            return incident.state
        return agent.reported_status if incident.waived(agent.id) else "quarantined"

    def _silent(self, agent: AgentInfo, now: float, silence: float) -> bool:
        sidecar = self.sidecars.get(agent.sidecar_id)
        if sidecar is None:
            return now - agent.last_seen > silence
        return sidecar.silent(now, silence)

    def _write(self) -> None:
        # An incident often moves through several states in one change; one row write each.
        for incident in self._pending.values():
            self.store.save_incident(incident, new=incident.id in self._created)

    def _commit(self) -> None:
        pending, self._pending = self._pending, {}
        self._created.clear()
        after, self._after = self._after, []
        for incident in pending.values():
            self._index(incident)
        for fn in after:
            fn()
        self.events.publish()

    def _index(self, incident: Incident) -> None:
        old = self.incidents.get(incident.id)
        self._held += len(incident.held) - len(old.held if old else ())
        for agent_id in incident.members:
            if incident.open:
                self.by_agent[agent_id] = incident.id
            elif self.by_agent.get(agent_id) == incident.id:
                del self.by_agent[agent_id]
        if incident.open:
            self.incidents[incident.id] = incident
        else:
            self.incidents.pop(incident.id, None)
