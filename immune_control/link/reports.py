"""What sidecars tell control over the link: hellos, agents, health, infections, action
and probation results, acks. Each change runs in one transaction under the ledger's lock."""

import dataclasses
from collections.abc import Iterable

from ..commands import QUARANTINE, Command
from ..control import Control
from ..ledger import SidecarState
from ..model import PROBATION, AgentInfo, Incident, Infection, Sample


class SidecarReports:
    """The link's side of control."""

    def __init__(self, control: Control) -> None:
        self._control = control
        self.ledger, self.store, self.clock = control.ledger, control.store, control.clock
        self.intake, self.healer = control.intake, control.healer

    def hello(
        self,
        sidecar_id: str,
        version: str,
        quarantined: Iterable[str],
        applied: Iterable[str],
    ) -> list[Command]:
        """A sidecar (re)connected: note it, and return the commands it still needs.

        The agents a Hello lists are not claimed by it: an agent is served by the
        sidecar that reports it (see ``foreign``), so a Hello cannot squat one."""
        now = self.clock()
        with self.ledger.change():
            self.ledger.acked(sidecar_id, applied)
            self.store.save_sidecar(sidecar_id, version, now, now, None)
            self.ledger.sidecars[sidecar_id] = SidecarState(sidecar_id, version, now, now)
            pending = self.ledger.unacked.of(sidecar_id)
            return pending + self._reconcile(sidecar_id, set(quarantined), pending)

    def foreign(self, sidecar_id: str, agent_ids: Iterable[str]) -> str:
        """Why ``sidecar_id`` may not speak for these agents ('' when it may).

        An agent belongs to the sidecar that last reported it; another may take
        it over only once that sidecar's stream has ended (a rescheduled pod).
        """
        with self.ledger.lock:
            for agent_id in agent_ids:
                owner = self._owner_elsewhere(sidecar_id, agent_id)
                if owner:
                    return f"agent {agent_id} is served by sidecar {owner}"
        return ""

    def _owner_elsewhere(self, sidecar_id: str, agent_id: str) -> str:
        known = self.ledger.agents.get(agent_id)
        owner = known.sidecar_id if known else ""
        state = self.ledger.sidecars.get(owner)
        live = state is not None and state.disconnect_time is None
        return owner if owner != sidecar_id and live else ""

    def answerable(self, sidecar_id: str, incident_id: str, agent_id: str) -> str:
        """Why ``sidecar_id`` may not answer for this incident's agent ('' when it may)."""
        with self.ledger.lock:
            incident = self.ledger.get(incident_id)
            known = self.ledger.agents.get(agent_id)
        if incident is None:
            return ""  # stale answers are ignored downstream anyway
        if agent_id not in incident.members:
            return f"incident {incident_id} does not concern agent {agent_id}"
        if known is None or known.sidecar_id != sidecar_id:
            return f"agent {agent_id} is not served by sidecar {sidecar_id}"
        return ""

    def heard(self, sidecar_id: str) -> None:
        """A sidecar said something: it is not silent."""
        with self.ledger.lock:
            state = self.ledger.sidecars.get(sidecar_id)
            if state is not None:
                self.ledger.sidecars[sidecar_id] = dataclasses.replace(
                    state, last_message_time=self.clock()
                )

    def disconnected(self, sidecar_id: str) -> None:
        """A sidecar's stream ended."""
        now = self.clock()
        with self.ledger.change():
            state = self.ledger.sidecars.get(sidecar_id)
            if state is not None:
                state = dataclasses.replace(state, disconnect_time=now)
                self.ledger.sidecars[sidecar_id] = state
                self.store.save_sidecar(
                    sidecar_id, state.version, state.connect_time, state.last_message_time, now
                )

    def agent_seen(self, agent: AgentInfo) -> None:
        """A sidecar announced an agent or new labels for it."""
        with self.ledger.change():
            known = self.ledger.agents.get(agent.id)
            first = known.first_seen if known else agent.first_seen or self.clock()
            merged = dataclasses.replace(
                agent,
                first_seen=first,
                samples=max(agent.samples, known.samples if known else 0),
                reported_status=agent.reported_status or (known and known.reported_status) or "",
            )
            self.ledger.save_agent(merged)

    def health(self, sidecar_id: str, vitals: Iterable[tuple[str, str, Sample | None, int]]):
        """A sidecar's periodic summary: each agent's status, latest sample and sample count."""
        now = self.clock()
        with self.ledger.lock:
            for agent_id, status, sample, total in vitals:
                known = self.ledger.agents.get(agent_id) or AgentInfo(agent_id, first_seen=now)
                self.ledger.agents[agent_id] = dataclasses.replace(
                    known,
                    sidecar_id=sidecar_id,
                    reported_status=status or known.reported_status,
                    last_seen=now,
                    samples=max(known.samples, total),
                )
                if sample is not None:
                    self._control.keep_sample(sample)

    def infection(self, infection: Infection) -> Incident | None:
        """An infection report (a repeated id changes nothing)."""
        with self.ledger.change():
            return self.intake.infection(infection)

    def action_result(
        self, incident_id: str, action_id: str, ok: bool, detail: str, dry_run: bool
    ) -> None:
        """An actuator's answer; only the awaited action of an open incident counts."""
        with self.ledger.change():
            incident = self.ledger.get(incident_id)
            current = incident.current_action if incident else None
            if current is not None and current.id == action_id:
                self.healer.action_result(incident, ok, detail, dry_run)

    def probation_result(self, incident_id: str, healthy: bool, detail: str) -> None:
        """A probation window ended; only an incident on probation takes it."""
        with self.ledger.change():
            incident = self.ledger.get(incident_id)
            if incident is not None and incident.state == PROBATION:
                self.healer.probation_result(incident, healthy, detail)

    def acked(self, sidecar_id: str, command_ids: list[str]) -> None:
        """Commands the sidecar confirmed (of those sent to it)."""
        with self.ledger.change():
            self.ledger.acked(sidecar_id, command_ids)

    def _reconcile(self, sidecar_id: str, held: set[str], pending: list[Command]) -> list[Command]:
        """Quarantines control enforces that the sidecar no longer holds (its state was lost)."""
        queued = {c.agent_id for c in pending if c.kind == QUARANTINE}
        missing = []
        for incident in self.ledger.incidents.values():
            for agent_id in incident.held:
                if agent_id in held or agent_id in queued:
                    continue
                if self.ledger.sidecar_of(agent_id) == sidecar_id:
                    missing.append(
                        Command(
                            QUARANTINE,
                            sidecar_id,
                            agent_id,
                            incident.id,
                            reason="control holds this agent",
                        )
                    )
        for command in missing:
            self.ledger.keep(command)
        return missing
