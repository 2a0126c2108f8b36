"""What people and automation decide through the public API: approvals, rejections, healing
now, bulk forms, feedback and policies. Each call runs in one transaction and is audited
with its caller, reason and result; a reason or a list beyond the limits is refused."""

import dataclasses
from collections.abc import Callable, Iterable

from ..control import Control
from ..errors import ControlError, FailedPrecondition, LimitExceeded, NotFound
from ..model import EXPIRED, PENDING, REJECTED, Incident
from ..policies import Policy, validate


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


class Decisions:
    """The public API's side of control."""

    def __init__(self, control: Control) -> None:
        self.ledger, self.store, self.clock = control.ledger, control.store, control.clock
        self.config, self.approvals = control.config, control.approvals
        self.policies = control.policies

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
