"""Control's decisions on a real DuckDB file, with the sidecar link replaced by a recorder."""

import dataclasses

import pytest

from immune_control.api.decisions import Caller, Decisions
from immune_control.config import ApprovalSettings, ControlConfig, Limits
from immune_control.control import Control
from immune_control.errors import FailedPrecondition, InvalidArgument, NotFound
from immune_control.fleet import FleetSettings
from immune_control.link.reports import SidecarReports
from immune_control.model import AgentInfo, Anomaly, Infection
from immune_control.store import Database, Store


class Recorder:
    """Collects the commands control sends."""

    def __init__(self):
        self.sent = []

    def deliver(self, command):
        self.sent.append(command)


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


class Domain:
    """Control's core with both of its callers' sides, the link's reports and the API's
    decisions, driven here without their transports."""

    def __init__(self, control: Control) -> None:
        self._parts = (SidecarReports(control), Decisions(control), control)

    def __getattr__(self, name: str):
        for part in self._parts:
            if hasattr(part, name):
                return getattr(part, name)
        raise AttributeError(name)


def make(tmp_path, clock=None, **overrides):
    clock, courier = clock or Clock(), Recorder()
    config = ControlConfig(db=str(tmp_path / "c.duckdb"), **overrides)
    control = Control(config, Store(Database(config.db_path)), courier, clock)
    return Domain(control), courier, clock


def fleet_of(control, n, clock):
    for i in range(n):
        control.agent_seen(AgentInfo(f"a{i}", "sc", last_seen=clock.now))
        control.hello("sc", "t", [], [])


def infection(agent, kind="tool_explosion", severity=3.0, sigma=9.0, ident=None):
    anomaly = Anomaly(kind, "tool_calls", 12.0, 1.0, sigma)
    return Infection(ident or f"inf-{agent}-{kind}", agent, "sc", 0.0, severity, (anomaly,))


def test_a_repeated_report_is_one_incident(tmp_path):
    control, courier, clock = make(tmp_path)
    fleet_of(control, 1, clock)
    first = control.infection(infection("a0"))
    assert control.infection(infection("a0")) is None
    found, total = control.store.incidents()
    assert total == 1 and found[0].id == first.id
    assert [c.kind for c in courier.sent] == ["apply_action"]


def shared_outage(tmp_path):
    """Six of ten agents slow down together under a cap of 30%: control and its courier."""
    fleet = FleetSettings(correlation_share=0.5, min_fleet_size=4, max_quarantined_share=0.3)
    control, courier, clock = make(tmp_path, fleet=fleet)
    fleet_of(control, 10, clock)
    for i in range(6):
        control.infection(infection(f"a{i}", "latency_spike"))
    return control, courier


def test_shared_anomaly_is_one_fleet_incident_with_the_cap_held(tmp_path):
    control, courier = shared_outage(tmp_path)
    found, _ = control.store.incidents()
    fleets = [i for i in found if i.fleet]
    assert len(fleets) == 1
    incident = fleets[0]
    assert incident.diagnosis == "external_cause"
    assert sorted(incident.affected_agent_ids) == [f"a{i}" for i in range(6)]
    merged = [i for i in found if not i.fleet]
    assert {i.state for i in merged} == {"merged"}
    assert all(a.outcome == "cancelled" for i in merged for a in i.actions)
    held = set(incident.affected_agent_ids) - set(incident.waived_agent_ids)
    assert len(held) == 3  # 30% of 10
    waived = {c.agent_id for c in courier.sent if c.kind == "quarantine" and not c.enforce}
    assert waived == set(incident.waived_agent_ids)
    assert control.ledger.held() == 3
    # No per-agent healing was started after the fleet incident formed.
    applied = [c for c in courier.sent if c.kind == "apply_action"]
    assert len(applied) == len(merged)


def test_a_waived_agent_infected_again_is_waived_again(tmp_path):
    # Its sidecar holds it again on the next anomalous sample; the cap must still let it serve.
    control, courier = shared_outage(tmp_path)
    agent = next(i for i in control.store.incidents()[0] if i.fleet).waived_agent_ids[0]
    courier.sent.clear()
    control.infection(infection(agent, "latency_spike", ident="again"))
    assert [(c.kind, c.agent_id, c.enforce) for c in courier.sent] == [("quarantine", agent, False)]
    courier.sent.clear()
    serving = dataclasses.replace(infection(agent, "latency_spike", ident="s"), quarantined=False)
    control.infection(serving)
    assert courier.sent == []  # its sidecar kept the waiver: nothing to correct
    control.infection(infection("a0", "latency_spike", ident="held-again"))
    assert courier.sent == []  # a held agent stays held, nothing to send


def test_approving_a_fleet_incident_releases_its_agents(tmp_path):
    fleet = FleetSettings(correlation_share=0.5, min_fleet_size=4)
    control, courier, clock = make(tmp_path, fleet=fleet)
    fleet_of(control, 4, clock)
    for i in range(2):
        control.infection(infection(f"a{i}", "error_rate_spike"))
    fleet_incident = next(i for i in control.store.incidents()[0] if i.fleet)
    done = control.approve((fleet_incident.id, ""), Caller("ops"), "provider back")
    assert done.state == "healed"
    released = {c.agent_id for c in courier.sent if c.kind == "release"}
    assert released == {"a0", "a1"}


def test_feedback_lowers_the_wrong_diagnosis_next_time(tmp_path):
    control, _, clock = make(tmp_path)
    fleet_of(control, 1, clock)
    before = control.diagnoser.diagnose(infection("a0").anomalies)
    assert before[0].diagnosis == "infinite_loop"
    first = control.infection(infection("a0", ident="x1"))
    control.feedback(first.id, False, "tool_instability", Caller("ops"), "flaky MCP server")
    control.feedback(first.id, False, "tool_instability", Caller("ops"), "again")
    after = {
        h.diagnosis: h.confidence
        for h in control.diagnoser.diagnose(before and infection("a0").anomalies)
    }
    old = {h.diagnosis: h.confidence for h in before}
    assert after["infinite_loop"] < old["infinite_loop"]
    assert after["tool_instability"] > old["tool_instability"]
    assert max(after, key=after.get) == "tool_instability"
    # Feedback survives a restart of control.
    reopened, _, _ = make(tmp_path)
    ranked = reopened.diagnoser.diagnose(infection("a0").anomalies)
    assert ranked[0].diagnosis == "tool_instability"


def test_false_positive_dismisses_and_releases(tmp_path):
    control, courier, clock = make(tmp_path, approval=ApprovalSettings(threshold=0.0))
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    assert incident.state == "pending_approval"
    control.feedback(incident.id, True, "", Caller("ops"), "deploy, not a fault")
    assert control.store.incident(incident.id).state == "dismissed"
    assert courier.sent[-1].kind == "release"
    assert courier.sent[-1].adopt_baseline  # the sidecar's baselines take the level as normal


def test_a_shared_shift_a_sidecar_saw_is_one_fleet_incident_with_no_quarantine(tmp_path):
    control, courier, clock = make(tmp_path)
    fleet_of(control, 10, clock)
    shared = dataclasses.replace(infection("a0", "latency_spike"), shared_shift=True)
    incident = control.infection(shared)
    assert incident.fleet and incident.hypotheses[0].diagnosis == "external_cause"
    assert "a0" in incident.affected_agent_ids
    assert not [c for c in courier.sent if c.kind in ("quarantine", "apply_action")]


def test_a_shared_shift_in_a_fleet_too_small_to_correlate_is_held_at_control_s_word(tmp_path):
    control, courier, clock = make(tmp_path, fleet=FleetSettings(min_fleet_size=100))
    fleet_of(control, 10, clock)
    reported = dataclasses.replace(infection("a0"), shared_shift=True, quarantined=False)
    incident = control.infection(reported)
    assert not incident.fleet
    held = [c for c in courier.sent if c.kind == "quarantine"]
    assert [(c.agent_id, c.enforce) for c in held] == [("a0", True)]


def test_expiry_is_an_event_and_follows_the_rule(tmp_path):
    rule = ApprovalSettings(threshold=0.0, ttl_seconds=60, on_expiry="approve")
    control, _, clock = make(tmp_path, approval=rule)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    clock.now += 59
    control.tick()
    assert control.store.incident(incident.id).state == "pending_approval"
    clock.now += 2
    control.tick()
    after = control.store.incident(incident.id)
    assert after.state == "healing"
    assert after.actions[0].trigger == "expiry"
    kinds = [e.kind for e in control.store.events(incident_id=incident.id)]
    assert "approval.expired" in kinds


def test_expired_with_reject_rule_stays_and_can_be_healed(tmp_path):
    rule = ApprovalSettings(threshold=0.0, ttl_seconds=10, on_expiry="reject")
    control, courier, clock = make(tmp_path, approval=rule)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    clock.now += 11
    control.tick()
    assert control.store.incident(incident.id).state == "expired"
    assert not [c for c in courier.sent if c.kind == "apply_action"]
    assert control.heal_now((incident.id, ""), Caller(), "").state == "healing"


def test_unknown_targets_and_double_actions(tmp_path):
    control, _, clock = make(tmp_path, approval=ApprovalSettings(threshold=0.0))
    fleet_of(control, 2, clock)
    with pytest.raises(NotFound):
        control.approve(("nope", ""), Caller(), "")
    with pytest.raises(NotFound):
        control.approve(("", "ghost"), Caller(), "")
    with pytest.raises(FailedPrecondition):
        control.approve(("", "a1"), Caller(), "")  # known agent, nothing open
    incident = control.infection(infection("a0"))
    control.reject((incident.id, ""), Caller(), "")
    with pytest.raises(FailedPrecondition):
        control.reject((incident.id, ""), Caller(), "")
    with pytest.raises(FailedPrecondition):
        control.approve((incident.id, ""), Caller(), "")
    assert control.store.incident(incident.id).state == "rejected"


def test_bad_policy_changes_nothing(tmp_path):
    control, _, _ = make(tmp_path)
    before = dict(control.policies)
    for diagnosis, actions in (
        ("prompt_drift", ["reset_memory", "sacrifice_goat"]),
        ("not_a_cause", ["reset_memory"]),
        ("prompt_drift", []),
    ):
        with pytest.raises(InvalidArgument):
            control.upsert_policy(diagnosis, actions, Caller("admin"), "")
    assert control.policies == before
    assert control.store.policies() == []
    control.upsert_policy("prompt_drift", ["rollback_prompt"], Caller("admin"), "faster")
    reopened, _, _ = make(tmp_path)
    assert reopened.policies["prompt_drift"].actions == ("rollback_prompt",)


def test_automatic_attempts_are_capped_per_hour(tmp_path):
    healing = dataclasses.replace(ControlConfig().healing, max_auto_attempts_per_hour=2)
    control, _, clock = make(tmp_path, healing=healing)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    for _ in range(2):  # each action fails at the actuator
        current = control.ledger.get(incident.id).current_action
        control.action_result(incident.id, current.id, False, "boom", False)
    after = control.store.incident(incident.id)
    assert after.state == "pending_approval"
    assert len(after.actions) == 2


def test_the_attempt_cap_counts_attempts_made_before_a_restart(tmp_path):
    healing = dataclasses.replace(ControlConfig().healing, max_auto_attempts_per_hour=2)
    control, _, clock = make(tmp_path, healing=healing)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    first = control.ledger.get(incident.id).current_action
    control.action_result(incident.id, first.id, False, "boom", False)
    control.store.db.close()
    reopened, _, _ = make(tmp_path, healing=healing)
    second = reopened.ledger.get(incident.id).current_action
    assert second.attempt == 2
    reopened.action_result(incident.id, second.id, False, "boom", False)
    assert reopened.store.incident(incident.id).state == "pending_approval"


def test_time_control_spent_down_does_not_count_against_an_action(tmp_path):
    healing = dataclasses.replace(ControlConfig().healing, action_timeout_seconds=10)
    control, _, clock = make(tmp_path, healing=healing)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    first = control.ledger.get(incident.id).current_action
    control.store.db.close()
    clock.now += 60  # control was down for a minute
    reopened, _, _ = make(tmp_path, clock=clock, healing=healing)
    reopened.tick()
    assert reopened.store.incident(incident.id).current_action.id == first.id
    clock.now += 11
    reopened.tick()
    after = reopened.store.incident(incident.id)
    assert after.actions[0].outcome == "timed_out"


def test_a_reason_beyond_the_limit_is_refused_audited_and_changes_nothing(tmp_path):
    limits = Limits(max_reason_chars=20)
    control, _, clock = make(tmp_path, approval=ApprovalSettings(threshold=0.0), limits=limits)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    with pytest.raises(InvalidArgument, match="reason: at most 20 characters, got 21"):
        control.approve((incident.id, ""), Caller("dana"), "x" * 21)
    assert control.store.incident(incident.id).state == "pending_approval"
    (entry,) = control.store.audit(actor="dana")
    assert (entry.method, entry.result, entry.reason) == (
        "ApproveHealing",
        "INVALID_ARGUMENT",
        "x" * 20,
    )
    assert control.approve((incident.id, ""), Caller("dana"), "x" * 20).state != "pending_approval"


def test_a_bulk_call_acts_on_at_most_the_limit_and_the_rest_wait(tmp_path):
    limits = Limits(max_bulk=2)
    control, _, clock = make(tmp_path, approval=ApprovalSettings(threshold=0.0), limits=limits)
    fleet_of(control, 3, clock)
    for n in range(3):
        control.infection(infection(f"a{n}"))
    assert len(control.bulk("ApproveAll", Caller(), "", [])) == 2
    assert [r.agent_id for r in control.bulk("ApproveAll", Caller(), "", [])] != []
    assert control.bulk("ApproveAll", Caller(), "", []) == []
    with pytest.raises(InvalidArgument, match="at most 2 agents per call, got 3"):
        control.bulk("RejectAll", Caller(), "", ["a0", "a1", "a2"])


def test_a_reinfection_on_probation_is_an_event_from_probation_back_to_healing(tmp_path):
    control, _, clock = make(tmp_path)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    first = control.ledger.get(incident.id).current_action
    control.action_result(incident.id, first.id, True, "ok", False)
    assert control.ledger.get(incident.id).state == "probation"
    control.probation_result(incident.id, False, "tool_calls 14 vs 1")
    events = control.store.events(incident_id=incident.id)
    moves = [(e.from_state, e.to_state, e.kind) for e in events]
    assert ("probation", "healing", "action.reinfected") in moves
    assert moves[-1] == ("healing", "healing", "action.started")  # the ladder's next action
    state = "detected"  # every event starts where the one before it ended
    for from_state, to_state, kind in moves[1:]:
        assert from_state == state, kind
        state = to_state


def test_a_move_the_lifecycle_does_not_allow_is_an_error_and_writes_nothing(tmp_path):
    from immune_control.errors import IllegalTransition

    control, _, clock = make(tmp_path)
    fleet_of(control, 1, clock)
    incident = control.infection(infection("a0"))
    before = len(control.store.events(incident_id=incident.id))
    refused = pytest.raises(IllegalTransition, match="cannot move from healing to rejected")
    with refused, control.ledger.change():
        control.ledger.transition(control.ledger.get(incident.id), "rejected", "x")
    assert control.store.incident(incident.id).state == "healing"
    assert len(control.store.events(incident_id=incident.id)) == before


def test_every_state_of_the_lifecycle_has_its_moves_and_closed_ones_have_none():
    from immune_sdk import names

    from immune_control.model import CLOSED_STATES, TRANSITIONS

    assert set(TRANSITIONS) == set(names.names(names.STATE))
    assert all(not TRANSITIONS[s] for s in CLOSED_STATES)
    assert all(set(moves) <= set(TRANSITIONS) for moves in TRANSITIONS.values())


def test_which_agents_control_holds_is_one_rule():
    from immune_control.model import Incident

    def incident(state, **fields):
        return Incident("i", "a", state, 1.0, (), (), 0.0, 0.0, **fields)

    assert incident("quarantined").held == ("a",) and incident("healing").held == ("a",)
    assert incident("detected").held == () and incident("probation").held == ()
    assert incident("healed").held == () and incident("healing", quarantine_waived=True).held == ()
    fleet = incident("pending_approval", fleet=True, affected_agent_ids=("a", "b", "c"),
                     waived_agent_ids=("b",))  # fmt: skip
    assert fleet.held == ("a", "c") and fleet.waived("b") and not fleet.waived("a")


def test_the_counts_kept_for_the_fleet_cap_match_a_recount(tmp_path):
    fleet = FleetSettings(min_fleet_size=1000, max_quarantined_share=0.5)  # 3 of 6
    control, _, clock = make(tmp_path, fleet=fleet)
    fleet_of(control, 6, clock)
    for n in range(4):
        control.infection(infection(f"a{n}", severity=9.0 if n % 2 else 3.0))
    control.approve(("", "a1"), Caller("op", "operator"), "ok")
    control.reject(("", "a3"), Caller("op", "operator"), "no")
    ledger = control.ledger
    assert ledger.held() == sum(len(i.held) for i in ledger.current()) == 3
    assert ledger.reachable_agents(clock.now) == 6
    clock.now += ControlConfig().sidecar_silence_seconds + 1  # the sidecar went quiet
    assert ledger.reachable_agents(clock.now) == 1  # at least one, for shares
