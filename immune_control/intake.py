"""Intake: an infection report becomes a new incident, or joins the one already open.

A new incident is diagnosed, its quarantine confirmed or waived by the fleet
cap, then sent to approval (severe) or straight to healing (mild). When a
configured share of the fleet shows the same anomaly within the window, the
cause is external: one fleet incident gathers the agents, per-agent healing
of that anomaly stops, and nothing is healed automatically.
"""

import collections
import dataclasses
import math
import uuid

from .diagnosis import Diagnoser
from .fleet import Correlator, FleetSettings
from .healing import Healer
from .ledger import Ledger
from .model import (
    AUTO,
    DETECTED,
    MERGED,
    PENDING,
    PROBATION,
    QUARANTINED,
    Hypothesis,
    Incident,
    Infection,
)
from .store import Store

SEEN_CAPACITY = 200_000


class SeenInfections:
    """Infection ids already recorded: the newest in memory, older ones asked of the store.

    Sidecars resend a report only until control acks it, so repeats are recent;
    a report older than every id kept here is looked up in the database.
    """

    def __init__(self, store: Store, capacity: int = SEEN_CAPACITY) -> None:
        self._store, self._capacity = store, capacity
        rows = store.recent_infections(capacity + 1)
        self._horizon = rows[0][1] if len(rows) > capacity else -math.inf
        self._ids: collections.OrderedDict[str, float] = collections.OrderedDict(rows[-capacity:])

    def known(self, infection: Infection) -> bool:
        """Whether this infection's id was recorded already."""
        if infection.id in self._ids:
            return True
        return infection.time <= self._horizon and self._store.infection_known(infection.id)

    def add(self, infection: Infection) -> None:
        """Remember a recorded id (after its change committed)."""
        self._ids[infection.id] = infection.time
        while len(self._ids) > self._capacity:
            _, time = self._ids.popitem(last=False)
            self._horizon = max(self._horizon, time)


class Intake:
    """Turns infection reports into incidents; call inside ``Ledger.change()``."""

    def __init__(self, ledger: Ledger, healer: Healer, diagnoser: Diagnoser) -> None:
        self._ledger, self._healer, self._diagnoser = ledger, healer, diagnoser
        self._fleet: FleetSettings = ledger.config.fleet
        self._correlator = Correlator(self._fleet)
        self._seen = SeenInfections(ledger.store)

    def infection(self, infection: Infection) -> Incident | None:
        """Record one report (a repeat of a known id is a no-op); returns its incident."""
        ledger = self._ledger
        if self._seen.known(infection):
            return None
        ledger.adopt(infection.agent_id, infection.sidecar_id)
        incident = ledger.open_for(infection.agent_id)
        if incident is not None:
            incident = self._again(incident, infection)
        else:
            incident = self._new(infection)
        ledger.store.save_infection(
            infection.id,
            infection.agent_id,
            infection.sidecar_id,
            incident.id,
            infection.time,
            infection.severity,
            infection.anomalies,
        )
        ledger.after_commit(lambda: self._seen.add(infection))
        return incident

    def reinfected(self, incident: Incident, infection: Infection) -> Incident:
        """A re-infection during probation: the applied action did not cure."""
        detail = ", ".join(a.describe() for a in infection.anomalies) or "re-infected"
        return self._healer.probation_result(incident, healthy=False, detail=detail)

    def _again(self, incident: Incident, infection: Infection) -> Incident:
        if incident.state == PROBATION and not incident.fleet:
            return self.reinfected(incident, infection)
        if infection.quarantined and incident.waived(infection.agent_id):
            # A sidecar that lost the waiver (no state dir) held it again; the cap says serve.
            self._healer.quarantine(incident, infection.agent_id, False, "fleet quarantine cap")
        kinds = ", ".join(infection.types)
        self._ledger.note(
            incident,
            "infection.recorded",
            f"{infection.agent_id} infected again ({kinds}, severity {infection.severity:.1f}); "
            f"incident stays {incident.state}",
            agent_id=infection.agent_id,
        )
        return incident

    def _new(self, infection: Infection) -> Incident:
        now = self._ledger.clock()
        fleet_size = self._ledger.reachable_agents(now)
        shared = self._correlator.note(infection.agent_id, infection.types, now, fleet_size)
        # The sidecar saw it shared by its own agents; a fleet too small to correlate stays
        # per agent (control's quarantine command then holds it on the sidecar).
        if infection.shared_shift and infection.types and fleet_size >= self._fleet.min_fleet_size:
            shared = shared or infection.types[0]
        if shared:
            return self._fleet_incident(shared, infection, now)
        incident = self._detected(infection, self._diagnoser.diagnose(infection.anomalies))
        incident = self._contain(incident, held=infection.quarantined)
        if incident.severity >= self._ledger.config.approval.threshold:
            return self._ledger.transition(
                incident,
                PENDING,
                "approval.requested",
                message=f"severity {incident.severity:.1f} ≥ "
                f"{self._ledger.config.approval.threshold:g}: healing waits for a human",
                approval_expire_time=now + self._ledger.config.approval.ttl_seconds,
            )
        return self._healer.start(incident, AUTO, "system")

    def _detected(self, infection: Infection, hypotheses: tuple[Hypothesis, ...]) -> Incident:
        now = self._ledger.clock()
        incident = Incident(
            uuid.uuid4().hex,
            infection.agent_id,
            DETECTED,
            infection.severity,
            infection.anomalies,
            hypotheses,
            infection.time or now,
            now,
            evidence=infection.evidence,
        )
        top = hypotheses[0]
        self._ledger.create(incident)
        self._ledger.note(
            incident,
            "incident.detected",
            f"{', '.join(a.describe() for a in infection.anomalies)}; likely {top.diagnosis} "
            f"({top.confidence:.0%})",
            actor=infection.sidecar_id or "system",
        )
        return incident

    def _contain(self, incident: Incident, held: bool) -> Incident:
        ledger = self._ledger
        now = ledger.clock()
        if self._fleet.quarantine_allowed(ledger.held(), ledger.reachable_agents(now)):
            if not held:  # reported as a shared shift that control keeps per agent: hold it
                self._healer.quarantine(incident, incident.agent_id, True, "held by control")
            message = "held by its sidecar" if held else "held at control's word"
            return ledger.transition(incident, QUARANTINED, "incident.quarantined", message=message)
        self._healer.quarantine(incident, incident.agent_id, False, "fleet quarantine cap")
        return ledger.transition(
            incident,
            QUARANTINED,
            "quarantine.waived",
            quarantine_waived=True,
            message=f"fleet cap of {self._fleet.max_quarantined_share:.0%} reached: "
            "recorded, not enforced",
        )

    def _fleet_incident(self, kind: str, infection: Infection, now: float) -> Incident:
        fleet = self._open_fleet(kind) or self._create_fleet(kind, infection, now)
        members = set(fleet.affected_agent_ids)
        for agent_id in sorted(self._correlator.agents(kind, now) - members):
            fleet = self._join(fleet, agent_id, kind)
        return fleet

    def _open_fleet(self, kind: str) -> Incident | None:
        for incident in self._ledger.current():
            if incident.fleet and incident.anomalies and incident.anomalies[0].type == kind:
                return incident
        return None

    def _create_fleet(self, kind: str, infection: Infection, now: float) -> Incident:
        lead = tuple(a for a in infection.anomalies if a.type == kind)
        why = f"{kind} on a share of the fleet within {self._fleet.correlation_window_seconds:g}s"
        incident = Incident(
            uuid.uuid4().hex,
            "",
            PENDING,
            infection.severity,
            lead,
            (Hypothesis("external_cause", 1.0, (why,)),),
            now,
            now,
            fleet=True,
        )
        self._ledger.create(incident)
        self._ledger.note(
            incident, "fleet.detected", f"external cause suspected: {why}; no per-agent healing"
        )
        return incident

    def _join(self, fleet: Incident, agent_id: str, kind: str) -> Incident:
        own = self._ledger.open_for(agent_id)
        waived = own is not None and not own.fleet and own.waived(agent_id)
        if own is not None and not own.fleet:
            own = self._healer.cancel(own, f"merged into fleet incident {fleet.id}")
            self._ledger.transition(
                own, MERGED, "incident.merged", message=f"folded into fleet incident {fleet.id}"
            )
        now = self._ledger.clock()
        if not waived and not self._fleet.quarantine_allowed(
            self._ledger.held(), self._ledger.reachable_agents(now)
        ):
            waived = True
            self._healer.quarantine(fleet, agent_id, False, "fleet quarantine cap")
        fleet = dataclasses.replace(
            fleet,
            affected_agent_ids=(*fleet.affected_agent_ids, agent_id),
            waived_agent_ids=(*fleet.waived_agent_ids, agent_id)
            if waived
            else fleet.waived_agent_ids,
        )
        state = "quarantine not enforced (fleet cap)" if waived else "held"
        self._ledger.note(
            fleet, "fleet.agent_added", f"{agent_id} shows {kind}; {state}", agent_id=agent_id
        )
        return self._ledger.put(fleet)
