"""Healing: walk the ladders of an incident's hypotheses, push actions, verify on probation.

Each step picks the best untried action (immune memory drops the actions
that already failed this agent for the diagnosis, and ranks the rest by the
fleet's success rate), sends it to the agent's sidecar and waits for the
actuator. An applied action releases the agent on probation; healthy
samples heal the incident, a re-infection counts as a failure and the next
action follows. When a hypothesis's ladder runs out, the next hypothesis
takes over; when all do, the incident waits for a human.
"""

import collections
import dataclasses
import uuid
from collections.abc import Iterable
from typing import Protocol

from .commands import APPLY_ACTION, QUARANTINE, RELEASE, Command
from .ledger import Ledger
from .memory import ImmuneMemory
from .model import (
    A_APPLIED,
    A_CANCELLED,
    A_FAILED,
    A_PENDING,
    A_REINFECTED,
    A_SUCCEEDED,
    A_TIMED_OUT,
    AUTO,
    EXHAUSTED,
    EXPIRY,
    HEALED,
    HEALING,
    PENDING,
    PROBATION,
    HealingAction,
    Incident,
)
from .policies import Policy

HOUR = 3600.0
AUTOMATIC = (AUTO, EXPIRY)


class Ranker(Protocol):
    """Orders a ladder's actions for one agent and diagnosis (immune memory does)."""

    def rank(self, ladder: Iterable[str], agent_id: str, diagnosis: str) -> list[str]:
        """The actions to try, best first."""
        ...


def choose(
    incident: Incident,
    tried: set[tuple[str, str]],
    policies: dict[str, Policy],
    ranker: Ranker,
) -> tuple[str, int] | None:
    """The next (action, hypothesis index): the best untried action of the first
    hypothesis, from the current one on, that has one left; None when all are tried."""
    for index in range(incident.hypothesis_index, len(incident.hypotheses)):
        diagnosis = incident.hypotheses[index].diagnosis
        policy = policies.get(diagnosis)
        ladder = policy.actions if policy else ()
        for action in ranker.rank(ladder, incident.agent_id, diagnosis):
            if (diagnosis, action) not in tried:
                return action, index
    return None


class Healer:
    """Drives healing actions for incidents; call inside ``Ledger.change()``."""

    def __init__(
        self,
        ledger: Ledger,
        memory: ImmuneMemory,
        policies: dict[str, Policy],
        recent_automatic: Iterable[HealingAction] = (),
    ):
        self._ledger = ledger
        self._memory = memory
        self.policies = policies
        self._settings = ledger.config.healing
        # Start times of each agent's automatic actions within the last hour, for the cap.
        self._automatic: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        for action in recent_automatic:
            self._automatic[action.agent_id].append(action.start_time)

    def start(self, incident: Incident, trigger: str, actor: str, action: str = "") -> Incident:
        """Begin (or resume) healing with ``trigger``; ``action`` forces the first step."""
        incident = dataclasses.replace(incident, trigger=trigger, approval_expire_time=None)
        return self.next(incident, actor, forced=action)

    def next(self, incident: Incident, actor: str = "system", forced: str = "") -> Incident:
        """Apply the next action, fall back to the next hypothesis, or give up to a human."""
        if incident.trigger in AUTOMATIC and not forced and self._capped(incident.agent_id):
            return self._hand_over(incident)
        choice = (forced, incident.hypothesis_index) if forced else self._choose(incident)
        if choice is None:
            return self._ledger.transition(
                incident,
                EXHAUSTED,
                "healing.exhausted",
                message="every action of every hypothesis was tried; a human must act",
            )
        action, index = choice
        if index != incident.hypothesis_index:
            old, new = incident.diagnosis, incident.hypotheses[index].diagnosis
            incident = dataclasses.replace(incident, hypothesis_index=index)
            self._ledger.note(
                incident, "diagnosis.fallback", f"ladder of {old} exhausted; trying {new}"
            )
        return self._apply(incident, action, actor)

    def action_result(self, incident: Incident, ok: bool, detail: str, dry_run: bool) -> Incident:
        """The actuator answered: on success watch the agent on probation, else move on."""
        action = incident.current_action
        if action is None or action.outcome != A_PENDING:
            return incident
        now = self._ledger.clock()
        if not ok:
            return self._finish(incident, action, A_FAILED, f"actuator failed: {detail}")
        applied = dataclasses.replace(
            action, outcome=A_APPLIED, applied_time=now, detail=detail, dry_run=dry_run
        )
        incident = self._ledger.save_action(incident, applied)
        self._ledger.send(self._command(incident, RELEASE, probation=True))
        return self._ledger.transition(
            incident,
            PROBATION,
            "action.applied",
            message=f"{action.action} applied ({detail or 'ok'}); watching on probation",
        )

    def probation_result(self, incident: Incident, healthy: bool, detail: str) -> Incident:
        """Probation ended: healed, or re-infected and on to the next action."""
        action = incident.current_action
        if action is None or action.outcome != A_APPLIED:
            return incident
        if not healthy:
            return self._finish(incident, action, A_REINFECTED, f"re-infected: {detail}")
        won = self._close(action, A_SUCCEEDED, detail or "probation passed")
        incident = self._ledger.save_action(incident, won)
        self._ledger.after_commit(lambda: self._memory.record(won))
        return self._ledger.transition(
            incident,
            HEALED,
            "incident.healed",
            message=f"healed by {action.action} ({incident.diagnosis}); agent released",
        )

    def time_out(self, incident: Incident) -> Incident:
        """No actuator or probation answer in time: a failure, then the next action."""
        action = incident.current_action
        if action is None:
            return incident
        return self._finish(incident, action, A_TIMED_OUT, "no answer from the sidecar in time")

    def overdue(self, incident: Incident, now: float, awake_since: float = 0.0) -> bool:
        """Whether the current action has waited longer than allowed.

        Waiting counts from ``awake_since`` at the earliest: answers buffered by a
        sidecar while control was down get a full window after a restart.
        """
        action = incident.current_action
        if action is None:
            return False
        wait = self._settings.action_timeout_seconds
        if action.outcome == A_APPLIED:
            start, wait = action.applied_time or action.start_time, wait * 2
            wait += self._settings.probation_timeout_seconds
        else:
            start = action.start_time
        return now - max(start, awake_since) > wait

    def cancel(self, incident: Incident, why: str) -> Incident:
        """Stop the current action without counting it in immune memory."""
        action = incident.current_action
        if action is None:
            return incident
        return self._ledger.save_action(incident, self._close(action, A_CANCELLED, why))

    def quarantine(self, incident: Incident, agent_id: str, enforce: bool, reason: str) -> None:
        """Tell an agent's sidecar to hold it (or, past the fleet cap, not to)."""
        self._ledger.send(
            Command(
                QUARANTINE,
                self._ledger.sidecar_of(agent_id),
                agent_id,
                incident.id,
                reason=reason,
                enforce=enforce,
            )
        )

    def release(self, incident: Incident, agent_id: str, reason: str, adopt: bool = False) -> None:
        """Tell an agent's sidecar to let it serve again, no probation (``adopt``: and take
        the level it showed as normal, after a false positive)."""
        sidecar = self._ledger.sidecar_of(agent_id)
        self._ledger.send(
            Command(RELEASE, sidecar, agent_id, incident.id, reason=reason, adopt_baseline=adopt)
        )

    def _apply(self, incident: Incident, name: str, actor: str) -> Incident:
        now = self._ledger.clock()
        command = self._command(incident, APPLY_ACTION, action=name)
        action = HealingAction(
            uuid.uuid4().hex,
            incident.id,
            incident.agent_id,
            name,
            incident.diagnosis,
            incident.trigger,
            len(incident.actions) + 1,
            now,
            actor,
            dry_run=self._settings.dry_run,
            command_id=command.id,
        )
        command = dataclasses.replace(command, action_id=action.id)
        incident = incident.with_action(action)
        self._ledger.send(command)
        if action.trigger in AUTOMATIC:
            self._ledger.after_commit(lambda: self._automatic[action.agent_id].append(now))
        return self._ledger.transition(
            incident,
            HEALING,
            "action.started",
            actor=actor,
            message=f"{name} for {incident.diagnosis} (attempt {action.attempt}, "
            f"trigger {incident.trigger})",
        )

    def _finish(self, incident: Incident, action: HealingAction, outcome: str, why: str):
        closed = self._close(action, outcome, why)
        incident = self._ledger.save_action(incident, closed)
        self._ledger.after_commit(lambda: self._memory.record(closed))
        kind, message = f"action.{outcome}", f"{action.action} {outcome}: {why}"
        if incident.state == PROBATION:  # back from probation: the agent is held again
            incident = self._ledger.transition(incident, HEALING, kind, message=message)
        else:
            self._ledger.note(incident, kind, message)
        return self.next(incident)

    def _close(self, action: HealingAction, outcome: str, detail: str) -> HealingAction:
        now = self._ledger.clock()
        return dataclasses.replace(action, outcome=outcome, finish_time=now, detail=detail)

    def _choose(self, incident: Incident) -> tuple[str, int] | None:
        tried = {(a.diagnosis, a.action) for a in incident.actions}
        return choose(incident, tried, self.policies, self._memory)

    def _capped(self, agent_id: str) -> bool:
        times = self._automatic[agent_id]
        since = self._ledger.clock() - HOUR
        while times and times[0] < since:
            times.popleft()
        return len(times) >= self._settings.max_auto_attempts_per_hour

    def _hand_over(self, incident: Incident) -> Incident:
        ttl = self._ledger.config.approval.ttl_seconds
        return self._ledger.transition(
            incident,
            PENDING,
            "approval.requested",
            message=f"automatic attempts for {incident.agent_id} reached "
            f"{self._settings.max_auto_attempts_per_hour} this hour; a human must approve more",
            approval_expire_time=self._ledger.clock() + ttl,
        )

    def _command(self, incident: Incident, kind: str, action: str = "", probation=False):
        settings = self._settings
        return Command(
            kind,
            self._ledger.sidecar_of(incident.agent_id),
            incident.agent_id,
            incident.id,
            reason=f"healing {incident.id}",
            action=action,
            dry_run=settings.dry_run,
            timeout_seconds=settings.action_timeout_seconds,
            probation_samples=settings.probation_samples if probation else 0,
            probation_timeout_seconds=settings.probation_timeout_seconds if probation else 0.0,
        )
