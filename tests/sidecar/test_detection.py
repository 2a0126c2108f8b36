"""An SDK-instrumented agent exports real OTLP; each of the nine faults gets it quarantined."""

import pytest

from immune_common.vocab import ANOMALY_TYPES
from tests.support.agents import SETTLED, Profile, SimAgent
from tests.support.sidecar import get_json

FAULTS = {
    "token_spike": {"input_tokens": 6000, "output_tokens": 2500},
    "input_token_spike": {"input_tokens": 6000},
    "output_token_spike": {"output_tokens": 2500},
    "latency_spike": {"latency": 9.0},
    "tool_explosion": {"tool_calls": 12},
    "high_retry_rate": {"retries": 2.0},
    "error_rate_spike": {"error_share": 0.7},
    "cost_spike": {"model": "claude-opus-4"},  # same tokens, 100x the price
    "prompt_change": {"prompt_hash": "p-injected"},
}
# Judged against invocations or answers, which this metrics-only agent does not emit:
# test_stock_openai drives it through a stock instrumentation's spans.
ELSEWHERE = {"call_rate_spike"}


def test_every_anomaly_type_has_a_fault():
    assert sorted(FAULTS) == sorted(set(ANOMALY_TYPES) - ELSEWHERE)


def trained(sidecar, name: str, transport: str, seed: int = 7) -> SimAgent:
    agent = SimAgent(name, transport, sidecar.ports[f"otlp_{transport}"], seed=seed)
    for _ in range(SETTLED):
        agent.interval(Profile())
    return agent


@pytest.mark.parametrize("transport", ["grpc", "http"])
@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_fault_quarantines_the_agent_with_its_type(sidecar, kind, transport):
    name = f"agent-{kind}-{transport}"
    agent = trained(sidecar, name, transport)
    status, body = get_json(sidecar.ports["admin"], f"/v1/agents/{name}")
    assert body["status"] == "healthy"
    assert get_json(sidecar.ports["admin"], "/readyz")[0] == 200

    agent.interval(Profile(**FAULTS[kind]))

    status, ready = get_json(sidecar.ports["admin"], "/readyz")
    assert status == 503
    held = {q["agent_id"]: q for q in ready["quarantined"]}
    assert kind in held[name]["anomaly_types"]
    assert kind in held[name]["reason"]
    if kind == "cost_spike":  # the move, by the models' names
        assert "claude-opus-4" in held[name]["reason"]
    _, body = get_json(sidecar.ports["admin"], f"/v1/agents/{name}")
    assert body["status"] == "quarantined"
    anomaly = next(a for a in body["recent_anomalies"] if a["type"] == kind)
    assert anomaly["sigma"] >= sidecar.detector.limits().sudden
    if kind != "prompt_change":
        assert anomaly["observed"] > anomaly["baseline"]
        assert anomaly["vital"] in body["baselines"]
    assert 1.0 <= body["quarantine"]["severity"] <= 10.0
    agent.close()


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_healthy_noisy_traffic_is_never_quarantined(sidecar, transport):
    agents = [
        SimAgent(f"calm-{transport}-{i}", transport, sidecar.ports[f"otlp_{transport}"], seed=i)
        for i in range(4)
    ]
    for step in range(60):
        for i, agent in enumerate(agents):
            # Noise of ±25% per call, and load that rises and falls over the run.
            ops = 10 + (step * (i + 1)) % 25
            agent.interval(Profile(operations=ops, noise=0.25, tool_calls=1.5))
    status, ready = get_json(sidecar.ports["admin"], "/readyz")
    assert (status, ready["quarantined"]) == (200, [])
    _, listing = get_json(sidecar.ports["admin"], "/v1/agents")
    calm = [a for a in listing["agents"] if a["agent_id"].startswith("calm-")]
    assert len(calm) == 4
    assert all(a["status"] == "healthy" and a["samples"] == 60 for a in calm)
    for agent in agents:
        agent.close()


def test_anomalous_samples_do_not_pull_the_baseline(sidecar):
    agent = trained(sidecar, "stubborn", "grpc")
    before = get_json(sidecar.ports["admin"], "/v1/agents/stubborn")[1]["baselines"]["latency"]
    for _ in range(5):
        agent.interval(Profile(latency=9.0))
    after = get_json(sidecar.ports["admin"], "/v1/agents/stubborn")[1]["baselines"]["latency"]
    assert after["mean"] == before["mean"] and after["samples"] == before["samples"]
    agent.close()


def test_severity_grows_with_deviation(sidecar):
    severities = []
    for i, latency in enumerate((7.0, 14.0, 30.0)):
        agent = trained(sidecar, f"sev-{i}", "grpc")
        agent.interval(Profile(latency=latency))
        severities.append(
            get_json(sidecar.ports["admin"], f"/v1/agents/sev-{i}")[1]["quarantine"]["severity"]
        )
        agent.close()
    assert severities == sorted(severities) and severities[0] < severities[-1]
