"""The control facade: every change to incidents, agents and policies goes through here.

The link adapter and the API adapter call these methods; each runs in one
transaction under the ledger's lock, and each mutating call of the public
API is audited with its caller, reason and result.
"""

import dataclasses
import time
from collections.abc import Callable, Iterable

from .approvals import Approvals
from .commands import QUARANTINE, Command, Courier
from .config import ControlConfig
from .diagnosis import Diagnoser
from .errors import ControlError, FailedPrecondition, LimitExceeded, NotFound
from .healing import AUTOMATIC, HOUR, Healer
from .intake import Intake
from .ledger import Ledger, SidecarState
from .memory import ImmuneMemory
from .model import (
    EXPIRED,
    PENDING,
    PROBATION,
    REJECTED,
    AgentInfo,
    Incident,
    Infection,
    Sample,
)
from .policies import Policy, defaults, validate
from .store import Store


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who makes an API call, for permissions and the audit log."""

    actor: str = "anonymous"
    role: str = "operator"


@dataclasses.dataclass(frozen=True)
class BulkResult:
    """What one incident got from a bulk call."""

    incident_id: str
    agent_id: str
    ok: bool
    code: str
    message: str
    state: str


class Control:
    """Incidents, approvals, healing and memory behind one lock."""

    def __init__(
        self,
        config: ControlConfig,
        store: Store,
        courier: Courier,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.store, self.clock = config, store, clock
        self.started = clock()
        self.ledger = Ledger(config, store, courier, clock)
        self.memory = ImmuneMemory()
        for action in store.finished_actions():
            self.memory.record(action)
        self.diagnoser = Diagnoser()
        for verdict in store.feedback():
            self.diagnoser.learn(verdict)
        self.policies = defaults(config.policies)
        for diagnosis, actions, actor, when in store.policies():
            self.policies[diagnosis] = Policy(diagnosis, actions, actor, when)
        recent = store.actions_since(self.started - HOUR, AUTOMATIC)
        self.healer = Healer(self.ledger, self.memory, self.policies, recent)
        self.intake = Intake(self.ledger, self.healer, self.diagnoser)
        self.approvals = Approvals(self.ledger, self.healer, self.diagnoser)
        self._samples: list[Sample] = []

    # the sidecar link

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
        if agent_id not in (incident.agent_id, *incident.affected_agent_ids):
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
                    self._samples.append(sample)

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

    def tick(self) -> None:
        """Expire approvals, time out silent actions, store buffered samples."""
        now = self.clock()
        with self.ledger.lock:
            for incident in list(self.ledger.incidents.values()):
                self._due(incident, now)
            samples, self._samples = self._samples, []
        if samples:
            with self.ledger.change():
                self.store.add_samples(samples)

    # the public API: decisions

    def approve(self, target: tuple[str, str], caller: Caller, reason: str) -> Incident:
        """ApproveHealing."""
        return self._decide(
            "ApproveHealing",
            target,
            caller,
            reason,
            lambda i: self.approvals.approve(i, caller.actor, reason),
        )

    def reject(self, target: tuple[str, str], caller: Caller, reason: str) -> Incident:
        """RejectHealing."""
        return self._decide(
            "RejectHealing",
            target,
            caller,
            reason,
            lambda i: self.approvals.reject(i, caller.actor, reason),
        )

    def heal_now(
        self, target: tuple[str, str], caller: Caller, reason: str, action: str = ""
    ) -> Incident:
        """HealNow."""
        return self._decide(
            "HealNow",
            target,
            caller,
            reason,
            lambda i: self.approvals.heal_now(i, caller.actor, reason, action),
        )

    def bulk(
        self, method: str, caller: Caller, reason: str, agent_ids: Iterable[str]
    ) -> list[BulkResult]:
        """ApproveAll, RejectAll or HealAll over the matching incidents."""
        states = {"HealAll": (REJECTED, EXPIRED)}.get(method, (PENDING,))
        actor = caller.actor
        decide = {
            "ApproveAll": lambda i: self.approvals.approve(i, actor, reason),
            "RejectAll": lambda i: self.approvals.reject(i, actor, reason),
            "HealAll": lambda i: self.approvals.heal_now(i, actor, reason, ""),
        }[method]
        wanted = set(agent_ids)
        limit = self.config.limits.max_bulk
        self._within_limits(method, caller, "bulk", reason, len(wanted))
        with self.ledger.lock:
            targets = [
                i
                for i in self.ledger.incidents.values()
                if i.state in states and (not wanted or wanted & set(i.members))
            ][:limit]
        return [self._one(method, decide, i, caller, reason) for i in targets]

    def feedback(
        self, incident_id: str, false_positive: bool, true_cause: str, caller: Caller, reason: str
    ):
        """RecordFeedback."""

        def run():
            incident = self.ledger.get(incident_id) or self.store.incident(incident_id)
            if incident is None:
                raise NotFound(f"no incident {incident_id!r}")
            return self.approvals.feedback(
                incident, false_positive, true_cause, caller.actor, reason
            )

        return self._audited("RecordFeedback", caller, incident_id, reason, run)

    def upsert_policy(
        self, diagnosis: str, actions: Iterable[str], caller: Caller, reason: str
    ) -> Policy:
        """UpsertPolicy: replace one ladder."""

        def run():
            ladder = validate(diagnosis, actions)
            policy = Policy(diagnosis, ladder, caller.actor, self.clock())
            self.store.save_policy(diagnosis, ladder, caller.actor, policy.update_time)
            self.ledger.events.append(
                "policy.updated",
                actor=caller.actor,
                reason=reason,
                message=f"{diagnosis}: {' → '.join(ladder)}",
            )
            self.ledger.after_commit(lambda: self.policies.__setitem__(diagnosis, policy))
            return policy

        return self._audited("UpsertPolicy", caller, diagnosis, reason, run)

    def resolve(self, target: tuple[str, str]) -> Incident:
        """The incident a target names: by id, or an agent's open incident."""
        incident_id, agent_id = target
        if incident_id:
            found = self.ledger.get(incident_id) or self.store.incident(incident_id)
            if found is None:
                raise NotFound(f"no incident {incident_id!r}")
            return found
        if not agent_id:
            raise NotFound("name an incident_id or an agent_id")
        if agent_id not in self.ledger.agents:
            raise NotFound(f"no agent {agent_id!r}")
        found = self.ledger.open_for(agent_id)
        if found is None:
            raise FailedPrecondition(f"agent {agent_id!r} has no open incident")
        return found

    def _decide(
        self,
        method: str,
        target: tuple[str, str],
        caller: Caller,
        reason: str,
        fn: Callable[[Incident], Incident],
    ) -> Incident:
        name = target[0] or f"agent:{target[1]}"
        return self._audited(method, caller, name, reason, lambda: fn(self.resolve(target)))

    def _within_limits(
        self, method: str, caller: Caller, target: str, reason: str, agents: int = 0
    ) -> None:
        """Refuse (and audit) a reason or an agent list beyond the configured limits."""
        limits, problem, limit = self.config.limits, "", ""
        if len(reason) > limits.max_reason_chars:
            problem = f"reason: at most {limits.max_reason_chars} characters, got {len(reason)}"
            limit = "max_reason_chars"
        elif agents > limits.max_bulk:
            problem = f"agent_ids: at most {limits.max_bulk} agents per call, got {agents}"
            limit = "max_bulk"
        if problem:
            with self.ledger.change():
                short = reason[: limits.max_reason_chars]
                self.ledger.audit(
                    caller.actor, caller.role, method, target, short, "INVALID_ARGUMENT"
                )
            raise LimitExceeded(problem, limit)

    def refused(self, method: str, code: str, actor: str = "unknown caller") -> None:
        """Audit a change the API door refused (who it was is what the door could not tell)."""
        with self.ledger.change():
            self.ledger.audit(actor, "", method, "", "", code)

    def _audited(self, method: str, caller: Caller, target: str, reason: str, fn):
        self._within_limits(method, caller, target, reason)
        try:
            with self.ledger.change():
                result = fn()
                self.ledger.audit(caller.actor, caller.role, method, target, reason, "OK")
        except ControlError as exc:
            self.ledger.audit(caller.actor, caller.role, method, target, reason, exc.code)
            raise
        return result

    def _one(self, method: str, decide, incident: Incident, caller: Caller, reason: str):
        agent = incident.agent_id
        try:
            done = self._decide(method, (incident.id, ""), caller, reason, decide)
        except ControlError as exc:
            now = self.ledger.get(incident.id) or incident
            return BulkResult(incident.id, agent, False, exc.code, str(exc), now.state)
        return BulkResult(incident.id, agent, True, "OK", "", done.state)

    def _due(self, incident: Incident, now: float) -> None:
        expire = incident.approval_expire_time
        if incident.state == PENDING and expire is not None and now >= expire:
            with self.ledger.change():
                self.approvals.expire(incident, self.config.approval.on_expiry)
        elif self.healer.overdue(incident, now, awake_since=self.started):
            with self.ledger.change():
                self.healer.time_out(incident)

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
