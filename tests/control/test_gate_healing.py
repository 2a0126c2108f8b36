"""An agent with no telemetry at all, watched only through the egress gate: its tool-call
loop is detected from its calls, it is quarantined (its calls refused), healed by
``revoke_tools`` at the gate through control, and released on probation."""

import threading
import time

import openai
from immune.v1 import common_pb2 as pb
from immune.v1 import control_pb2 as api

from immune_sidecar.detect import BaselineSettings
from immune_sidecar.gate import GateSettings, RouteConfig
from tests.support.control import start_control, wait_for
from tests.support.providers import Provider
from tests.support.sidecar import metric, start_sidecar

AGENT = "gate-only-agent"
TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
MAX_TURNS = 8


class GateOnlyAgent:
    """An agent loop on the real openai client, pointed at the gate; no OTLP."""

    def __init__(self, port: int) -> None:
        self.client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0
        )
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._invoke()
            except openai.PermissionDeniedError:
                self.refused += 1
            except openai.APIStatusError:
                pass
            time.sleep(0.02)

    def _invoke(self) -> None:
        messages = [{"role": "user", "content": "How are the systems?"}]
        for _ in range(MAX_TURNS):
            reply = self.client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=TOOLS
            )
            message = reply.choices[0].message
            if not message.tool_calls:
                return
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                messages.append({"role": "tool", "tool_call_id": call.id, "content": "ok"})

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.client.close()


def test_an_agent_seen_only_through_the_gate_is_caught_contained_and_healed(tmp_path):
    control = start_control(str(tmp_path / "control.duckdb"), threshold=11.0)
    provider = Provider()
    provider.first_delay = 0.03  # a model's time to answer, not loopback's microseconds
    gate = GateSettings(
        listen="127.0.0.1:0",
        agent=AGENT,
        routes=(RouteConfig(kind="openai", upstream=provider.url),),
    )
    sidecar = start_sidecar(
        control=f"127.0.0.1:{control.port}",
        sidecar_id="sc-gate",
        link_backoff_seconds=0.1,
        link_max_backoff_seconds=0.5,
        span_interval_seconds=1.0,
        detection=BaselineSettings(min_samples=5),
        gate=gate,
    )
    agent = None
    try:
        assert sidecar.link.connected.wait(20)
        agent = GateOnlyAgent(sidecar.ports["gate"])
        learned = wait_for(lambda: _samples(sidecar) >= 8, timeout=40)
        assert learned, "no samples came from the gate's calls"
        assert sidecar.book.held(sidecar.clock()) == []
        provider.loop = True  # the model asks for a tool on every turn
        held = wait_for(lambda: _incident(control_stub(control), AGENT), timeout=30)
        assert held, "the tool loop was not caught"
        healed = wait_for(
            lambda: _state(control, AGENT) == pb.IncidentState.INCIDENT_STATE_HEALED, timeout=60
        )
        incident = _incident(control_stub(control), AGENT)
        assert healed, f"state {incident.state}"
        action = incident.actions[0]
        assert action.action == pb.ACTION_REVOKE_TOOLS
        assert action.outcome == pb.ACTION_OUTCOME_SUCCEEDED
        # The gate did it: the calls after the cure carry no tools, and the model answers.
        assert "tools" not in provider.bodies("/v1/chat/completions")[-1]
        # While held, its calls were refused at the gate, none reaching the provider.
        assert metric(sidecar, "immune_gate_refused_total", reason="quarantined") >= 1
        assert agent.refused >= 1
        assert sidecar.book.state(AGENT, sidecar.clock()) != "quarantined"
    finally:
        if agent:
            agent.close()
        sidecar.stop()
        provider.close()
        control.stop()


def _samples(sidecar) -> int:
    records = sidecar.agents.records()
    return records[0].samples if records else 0


def control_stub(control):
    import grpc
    from immune.v1 import control_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{control.port}")
    return control_pb2_grpc.ControlServiceStub(channel)


def _incident(stub, agent_id: str):
    found = stub.ListIncidents(api.ListIncidentsRequest(agent_id=agent_id)).incidents
    if not found:
        return None
    return stub.GetIncident(api.GetIncidentRequest(incident_id=found[0].id)).incident


def _state(control, agent_id: str):
    incident = _incident(control_stub(control), agent_id)
    return incident.state if incident else None
