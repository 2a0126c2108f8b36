"""End to end over loopback: sidecar infection → control incident → healing → verified."""

import grpc
import pytest
from immune.v1 import common_pb2 as pb
from immune.v1 import control_pb2 as api

from tests.support.control import FAULT, rig, wait_for

S = pb.IncidentState


def state_of(r, agent_id):
    found = r.stub.ListIncidents(api.ListIncidentsRequest(agent_id=agent_id)).incidents
    return found[0].state if found else None


@pytest.fixture
def mild(tmp_path):
    running = rig(tmp_path)
    yield running
    running.close()


def test_mild_infection_heals_automatically_and_the_agent_is_released(mild):
    agent = mild.agent("loop-agent")
    healed = mild.drive(agent, lambda: state_of(mild, "loop-agent") == S.INCIDENT_STATE_HEALED)
    assert healed, f"state {state_of(mild, 'loop-agent')}"
    incident = mild.incident("loop-agent")
    assert incident.hypotheses[0].diagnosis == pb.DIAGNOSIS_INFINITE_LOOP
    assert incident.actions[0].action == pb.ACTION_REVOKE_TOOLS
    assert incident.actions[0].outcome == pb.ACTION_OUTCOME_SUCCEEDED
    assert incident.actions[0].trigger == pb.TRIGGER_AUTO
    kinds = [e.kind for e in incident.timeline]
    for kind in (
        "incident.detected",
        "incident.quarantined",
        "action.started",
        "action.applied",
        "incident.healed",
    ):
        assert kind in kinds
    assert mild.admin.actions == ["revoke_tools"]
    assert mild.sidecar.book.state("loop-agent", mild.sidecar.clock()) != "quarantined"
    agent.close()


def test_an_action_that_does_not_cure_is_failed_and_never_tried_again(tmp_path):
    r = rig(tmp_path, cures={"reduce_autonomy"})
    try:
        agent = r.agent("stubborn")
        healed = r.drive(agent, lambda: state_of(r, "stubborn") == S.INCIDENT_STATE_HEALED, 60)
        assert healed, f"state {state_of(r, 'stubborn')}"
        incident = r.incident("stubborn")
        outcomes = [(a.action, a.outcome) for a in incident.actions]
        assert outcomes == [
            (pb.ACTION_REVOKE_TOOLS, pb.ACTION_OUTCOME_REINFECTED),
            (pb.ACTION_REDUCE_AUTONOMY, pb.ACTION_OUTCOME_SUCCEEDED),
        ]
        memory = r.stub.GetImmuneMemory(api.GetImmuneMemoryRequest(agent_id="stubborn"))
        own = {(e.action, e.attempts, e.successes) for e in memory.agent}
        assert (pb.ACTION_REVOKE_TOOLS, 1, 0) in own
        assert (pb.ACTION_REDUCE_AUTONOMY, 1, 1) in own

        # The same fault again: the failed action is skipped for this agent and diagnosis.
        r.admin.cured = False
        again = r.drive(
            agent,
            lambda: (
                len(r.stub.ListIncidents(api.ListIncidentsRequest(agent_id="stubborn")).incidents)
                == 2
                and state_of(r, "stubborn") == S.INCIDENT_STATE_HEALED
            ),
            60,
        )
        assert again
        second = r.incident("stubborn")
        assert [a.action for a in second.actions] == [pb.ACTION_REDUCE_AUTONOMY]
        assert r.admin.actions.count("revoke_tools") == 1
        agent.close()
    finally:
        r.close()


def test_severe_infection_waits_for_approval_then_heals(tmp_path):
    r = rig(tmp_path, threshold=0.0)
    try:
        agent = r.agent("severe")
        assert r.drive(agent, lambda: state_of(r, "severe") == S.INCIDENT_STATE_PENDING_APPROVAL)
        for _ in range(3):  # still pending: nothing is applied without a human
            agent.interval(FAULT)
        assert r.admin.actions == []
        done = r.stub.ApproveHealing(
            api.ApproveHealingRequest(
                target=api.Target(agent_id="severe"), reason="checked the logs"
            ),
            metadata=[("x-immune-actor", "alice")],
        )
        assert done.incident.state == S.INCIDENT_STATE_HEALING
        with pytest.raises(grpc.RpcError) as err:
            r.stub.ApproveHealing(
                api.ApproveHealingRequest(target=api.Target(incident_id=done.incident.id))
            )
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "healing" in err.value.details()
        assert r.drive(agent, lambda: state_of(r, "severe") == S.INCIDENT_STATE_HEALED)
        assert r.admin.actions == ["revoke_tools"]  # one healing, not two
        incident = r.incident("severe")
        assert incident.actions[0].trigger == pb.TRIGGER_APPROVAL
        assert incident.actions[0].actor == "alice"
        audit = r.stub.ListAuditEntries(api.ListAuditEntriesRequest()).entries
        assert [(e.method, e.actor, e.result) for e in audit][:2] == [
            ("ApproveHealing", "anonymous", "FAILED_PRECONDITION"),
            ("ApproveHealing", "alice", "OK"),
        ]
        assert audit[1].reason == "checked the logs"
        agent.close()
    finally:
        r.close()


def test_rejected_stays_quarantined_and_is_not_requeued_until_heal_now(tmp_path):
    r = rig(tmp_path, threshold=0.0)
    try:
        agent = r.agent("rejected")
        assert r.drive(agent, lambda: state_of(r, "rejected") == S.INCIDENT_STATE_PENDING_APPROVAL)
        r.stub.RejectHealing(api.RejectHealingRequest(target=api.Target(agent_id="rejected")))
        clock = r.sidecar.clock
        # Release the agent locally would be wrong; fresh faults must not re-queue it either.
        for _ in range(4):
            agent.interval(FAULT)
        assert state_of(r, "rejected") == S.INCIDENT_STATE_REJECTED
        assert (
            len(r.stub.ListIncidents(api.ListIncidentsRequest(agent_id="rejected")).incidents) == 1
        )
        assert r.sidecar.book.state("rejected", clock()) == "quarantined"
        view = r.stub.GetAgent(api.GetAgentRequest(agent_id="rejected")).agent
        assert view.status == pb.AGENT_STATUS_QUARANTINED
        r.stub.HealNow(api.HealNowRequest(target=api.Target(agent_id="rejected")))
        assert r.drive(agent, lambda: state_of(r, "rejected") == S.INCIDENT_STATE_HEALED)
        assert r.incident("rejected").actions[0].trigger == pb.TRIGGER_HEAL_NOW
        agent.close()
    finally:
        r.close()


def test_a_false_positive_teaches_the_sidecar_the_agent_s_new_level(tmp_path):
    r = rig(tmp_path, threshold=0.0)
    try:
        agent = r.agent("busy")
        assert r.drive(agent, lambda: state_of(r, "busy") == S.INCIDENT_STATE_PENDING_APPROVAL)
        incident = r.incident("busy")
        r.stub.RecordFeedback(
            api.RecordFeedbackRequest(
                incident_id=incident.id, false_positive=True, reason="a new tool, not a loop"
            )
        )
        assert wait_for(lambda: r.sidecar.book.state("busy", r.sidecar.clock()) != "quarantined")
        relearned = r.sidecar.metrics.relearns.labels("false_positive")
        assert wait_for(lambda: relearned._value.get() == 1)
        for _ in range(6):  # the level the operator called normal now is
            agent.interval(FAULT)
        assert r.sidecar.book.state("busy", r.sidecar.clock()) != "quarantined"
        found = r.stub.ListIncidents(api.ListIncidentsRequest(agent_id="busy")).incidents
        assert len(found) == 1 and found[0].state == S.INCIDENT_STATE_DISMISSED
        agent.close()
    finally:
        r.close()
