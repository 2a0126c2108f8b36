"""The approval workflow of DESIGN.md §5: approve, reject, heal now, expiry, feedback."""

import dataclasses

from immune_common.vocab import DIAGNOSES

from .diagnosis import Diagnoser
from .errors import FailedPrecondition, InvalidArgument
from .healing import Healer
from .ledger import Ledger
from .model import (
    APPROVAL,
    DISMISSED,
    EXHAUSTED,
    EXPIRED,
    EXPIRY,
    HEAL_NOW,
    HEALED,
    PENDING,
    REJECTED,
    Feedback,
    Incident,
)

HEALABLE = (REJECTED, EXPIRED, EXHAUSTED)


class Approvals:
    """Human decisions on incidents; call inside ``Ledger.change()``."""

    def __init__(self, ledger: Ledger, healer: Healer, diagnoser: Diagnoser) -> None:
        self._ledger, self._healer, self._diagnoser = ledger, healer, diagnoser

    def approve(self, incident: Incident, actor: str, reason: str) -> Incident:
        """Start healing a pending incident (a fleet incident: release its agents)."""
        _require(incident, (PENDING,), "approve")
        self._ledger.note(
            incident, "approval.granted", f"approved by {actor}", actor=actor, reason=reason
        )
        if incident.fleet:
            return self._release_fleet(incident, actor, reason)
        return self._healer.start(incident, APPROVAL, actor)

    def reject(self, incident: Incident, actor: str, reason: str) -> Incident:
        """Keep a pending incident's agent quarantined; fresh detections do not re-queue it."""
        _require(incident, (PENDING,), "reject")
        return self._ledger.transition(
            incident,
            REJECTED,
            "approval.rejected",
            actor=actor,
            reason=reason,
            message=f"rejected by {actor}; the agent stays quarantined until someone heals it",
            approval_expire_time=None,
        )

    def heal_now(self, incident: Incident, actor: str, reason: str, action: str = "") -> Incident:
        """Heal a rejected, expired or exhausted incident now, optionally with ``action``."""
        _require(incident, HEALABLE, "heal")
        if incident.state == EXHAUSTED and not action:
            raise FailedPrecondition(
                f"incident {incident.id}: every action of its ladders was tried; "
                "name the action to apply"
            )
        self._ledger.note(
            incident, "healing.requested", f"heal now by {actor}", actor=actor, reason=reason
        )
        if incident.fleet:
            return self._release_fleet(incident, actor, reason)
        return self._healer.start(incident, HEAL_NOW, actor, action)

    def expire(self, incident: Incident, on_expiry: str) -> Incident:
        """The approval's time ran out: reject or approve, as configured."""
        incident = self._ledger.transition(
            incident,
            EXPIRED,
            "approval.expired",
            approval_expire_time=None,
            message=f"no decision within the approval TTL; escalation rule: {on_expiry}",
        )
        if on_expiry == "approve" and not incident.fleet:
            return self._healer.start(incident, EXPIRY, "system")
        return incident

    def feedback(
        self, incident: Incident, false_positive: bool, true_cause: str, actor: str, reason: str
    ) -> Feedback:
        """Store an operator's verdict; a false positive also releases the agent."""
        if true_cause and true_cause not in DIAGNOSES:
            raise InvalidArgument(f"unknown diagnosis {true_cause!r}")
        if not false_positive and not true_cause:
            raise InvalidArgument("say false_positive, or name the true cause")
        wrong = incident.diagnosis if incident.diagnosis != true_cause else ""
        lead = incident.anomalies[0].type if incident.anomalies else ""
        record = Feedback(
            incident.id,
            false_positive,
            true_cause,
            wrong,
            lead,
            actor,
            reason,
            self._ledger.clock(),
        )
        self._ledger.store.save_feedback(record)
        self._ledger.after_commit(lambda: self._diagnoser.learn(record))
        updated = dataclasses.replace(incident, feedback=record)
        what = "a false positive" if false_positive else f"caused by {true_cause}"
        self._ledger.note(
            updated, "feedback.recorded", f"{actor}: {what}", actor=actor, reason=reason
        )
        if false_positive and incident.open:
            self._dismiss(updated, actor, reason)
        else:
            self._ledger.put(updated)
        return record

    def _dismiss(self, incident: Incident, actor: str, reason: str) -> None:
        incident = self._healer.cancel(incident, "dismissed as a false positive")
        for agent_id in incident.affected_agent_ids if incident.fleet else (incident.agent_id,):
            self._healer.release(incident, agent_id, "false positive", adopt=True)
        self._ledger.transition(
            incident,
            DISMISSED,
            "incident.dismissed",
            actor=actor,
            reason=reason,
            message="false positive; agent released",
        )

    def _release_fleet(self, incident: Incident, actor: str, reason: str) -> Incident:
        for agent_id in incident.affected_agent_ids:
            self._healer.release(incident, agent_id, "external cause handled")
        return self._ledger.transition(
            incident,
            HEALED,
            "fleet.released",
            actor=actor,
            reason=reason,
            message=f"{len(incident.affected_agent_ids)} agents released",
        )


def _require(incident: Incident, states: tuple[str, ...], verb: str) -> None:
    if incident.state not in states:
        raise FailedPrecondition(
            f"cannot {verb} incident {incident.id}: it is {incident.state}, "
            f"not {' or '.join(states)}"
        )
