"""Control killed mid-healing, and the link cut while infections arrive: nothing lost."""

import dataclasses
import signal
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from immune.v1 import common_pb2 as pb
from immune.v1 import control_pb2 as api

from tests.support.control import (
    FAULT,
    ControlProcess,
    rig,
    run_control,
    scrape,
    start_control,
    wait_for,
)
from tests.support.sidecar import free_port

S = pb.IncidentState


def incidents(r, agent):
    return r.stub.ListIncidents(api.ListIncidentsRequest(agent_id=agent)).incidents


def test_control_killed_mid_healing_resumes_and_loses_nothing(tmp_path):
    db, port = str(tmp_path / "c.duckdb"), free_port()
    first = ControlProcess(db, port)
    r = rig(tmp_path, control=first, cures={"reduce_autonomy"})
    try:
        agent = r.agent("victim")
        # Healing in flight: the first action was applied and did not cure.
        assert r.drive(agent, lambda: len(r.admin.actions) >= 1)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        for _ in range(3):  # the agent keeps misbehaving while control is down
            agent.interval(FAULT)
        held = r.sidecar.book.state("victim", r.sidecar.clock())
        second = ControlProcess(db, port)
        try:
            healed = r.drive(
                agent,
                lambda: (
                    incidents(r, "victim")
                    and incidents(r, "victim")[0].state == S.INCIDENT_STATE_HEALED
                ),
                80,
            )
            assert healed, incidents(r, "victim")
            found = incidents(r, "victim")
            assert len(found) == 1
            actions = [a.action for a in found[0].actions]
            assert actions.count(pb.ACTION_REVOKE_TOOLS) == 1
            assert actions[-1] == pb.ACTION_REDUCE_AUTONOMY
            assert r.admin.actions == ["revoke_tools", "reduce_autonomy"]
            assert held in ("quarantined", "probation")
        finally:
            second.stop()
        agent.close()
    finally:
        r.sidecar.stop()
        r.admin.shutdown()
        first.stop()


def test_link_cut_buffers_reports_and_delivers_them_once(tmp_path):
    db = str(tmp_path / "c.duckdb")
    control = start_control(db, threshold=0.0)
    r = rig(tmp_path, control=control, threshold=0.0)
    port = control.port
    try:
        agent = r.agent("cut")
        control.stop()
        assert wait_for(lambda: not r.sidecar.link.connected.is_set())
        agent.interval(FAULT)  # quarantined locally, reported to nobody yet
        assert r.sidecar.book.state("cut", r.sidecar.clock()) == "quarantined"
        assert len(r.sidecar.link.outbox) >= 1
        assert (tmp_path / "sc-1" / "link.json").exists()
        time.sleep(1.0)
        assert r.sidecar.book.state("cut", r.sidecar.clock()) == "quarantined"
        r.control = run_control(dataclasses.replace(control.config, listen=f"127.0.0.1:{port}"))
        assert wait_for(lambda: incidents(r, "cut"), 30)
        assert wait_for(lambda: len(r.sidecar.link.outbox) == 0, 20)
        for _ in range(3):
            agent.interval(FAULT)
        time.sleep(1.0)
        found = incidents(r, "cut")
        assert len(found) == 1
        assert found[0].state == S.INCIDENT_STATE_PENDING_APPROVAL
        assert r.sidecar.book.state("cut", r.sidecar.clock()) == "quarantined"
        agent.close()
    finally:
        r.close()


def test_silent_sidecar_makes_its_agents_unreachable(tmp_path):
    r = rig(tmp_path, sidecar_silence_seconds=1.0)
    try:
        agent = r.agent("quiet", intervals=3)

        def view():
            listed = r.stub.ListAgents(api.ListAgentsRequest(query="quiet")).agents
            return listed[0] if listed else pb.Agent()

        assert wait_for(
            lambda: view().status in (pb.AGENT_STATUS_LEARNING, pb.AGENT_STATUS_HEALTHY)
        )
        r.sidecar.link.stop()
        assert wait_for(lambda: view().status == pb.AGENT_STATUS_UNREACHABLE, 10)
        agent.close()
    finally:
        r.close()


def test_health_reflection_and_unknown_ids(tmp_path):
    r = rig(tmp_path)
    try:
        health = health_pb2_grpc.HealthStub(r.channel)
        for service in ("", "immune.v1.ControlService", "immune.v1.SidecarLinkService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(r.channel)
        reply = next(
            reflect.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
        )
        names = {s.name for s in reply.list_services_response.service}
        assert {"immune.v1.ControlService", "grpc.health.v1.Health"} <= names
        calls = [
            lambda: r.stub.GetIncident(api.GetIncidentRequest(incident_id="nope")),
            lambda: r.stub.GetAgent(api.GetAgentRequest(agent_id="ghost")),
            lambda: r.stub.ApproveHealing(
                api.ApproveHealingRequest(target=api.Target(incident_id="nope"))
            ),
            lambda: r.stub.HealNow(api.HealNowRequest(target=api.Target(agent_id="ghost"))),
        ]
        for call in calls:
            try:
                call()
                raise AssertionError("expected NOT_FOUND")
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
                assert "nope" in exc.details() or "ghost" in exc.details()
        policy = pb.Policy(
            diagnosis=pb.DIAGNOSIS_PROMPT_DRIFT, actions=[pb.ACTION_RESET_MEMORY, 99]
        )
        try:
            r.stub.UpsertPolicy(api.UpsertPolicyRequest(policy=policy))
            raise AssertionError("expected INVALID_ARGUMENT")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "actions[1]" in exc.details()
        ladders = r.stub.ListPolicies(api.ListPoliciesRequest()).policies
        drift = next(p for p in ladders if p.diagnosis == pb.DIAGNOSIS_PROMPT_DRIFT)
        assert drift.actions[0] == pb.ACTION_RESET_MEMORY and len(drift.actions) == 4
        try:
            r.stub.ApproveHealing(api.ApproveHealingRequest())
            raise AssertionError("expected INVALID_ARGUMENT")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        r.close()


def test_bulk_calls_report_each_incident_and_watch_streams_events(tmp_path):
    r = rig(tmp_path, threshold=0.0, metrics="127.0.0.1:0")
    try:
        agents = [r.agent(f"bulk-{i}", seed=i) for i in range(3)]
        for a in agents:
            a.interval(FAULT)
        assert wait_for(lambda: r.stub.GetStats(api.GetStatsRequest()).pending_approvals == 3)
        metrics = scrape(r.control)
        assert metrics[("immune_approvals_pending", ())] == 3
        assert metrics[("immune_link_connections", ())] == 1
        assert metrics[("immune_link_messages_total", (("kind", "infection"),))] == 3
        pending = (("diagnosis", "infinite_loop"), ("state", "pending_approval"))
        assert metrics[("immune_incidents", pending)] == 3
        watch = r.stub.WatchEvents(api.WatchEventsRequest(after_sequence=1))
        first = next(watch)
        assert first.event.sequence == 2
        rejected = r.stub.RejectAll(api.RejectAllRequest(reason="not now")).results
        assert len(rejected) == 3 and all(x.ok for x in rejected)
        assert {x.state for x in rejected} == {S.INCIDENT_STATE_REJECTED}
        again = r.stub.ApproveAll(api.ApproveAllRequest()).results
        assert again == []
        healed = r.stub.HealAll(api.HealAllRequest(agent_ids=["bulk-0", "bulk-1"])).results
        assert sorted(x.agent_id for x in healed) == ["bulk-0", "bulk-1"]
        assert all(x.ok and x.state == S.INCIDENT_STATE_HEALING for x in healed)
        seen = []
        for item in watch:
            seen.append(item.event.kind)
            if seen.count("action.started") == 2:
                break
        assert "approval.rejected" in seen
        watch.cancel()
        stats = r.stub.GetStats(api.GetStatsRequest())
        assert stats.rejected == 1 and stats.agents_total == 3 and stats.infections_total == 3
        metrics = scrape(r.control)
        assert metrics[("immune_approvals_pending", ())] == 0
        started = (("action", "revoke_tools"), ("outcome", "pending"))
        assert (
            metrics.get(("immune_healing_actions", started), 0)
            + metrics.get(
                ("immune_healing_actions", (("action", "revoke_tools"), ("outcome", "applied"))), 0
            )
            == 2
        )
        assert (
            metrics[("immune_incidents", (("diagnosis", "infinite_loop"), ("state", "rejected")))]
            == 1
        )
        for a in agents:
            a.close()
    finally:
        r.close()
