"""`immune-demo` end to end: every chaos fault detected, decided, healed and remembered."""

import json
import os
import signal
import subprocess
import sys

import pytest
from immune_sdk import Client, names

from tests.support.control import wait_for
from tests.support.sidecar import free_port

AGENTS = 8
THRESHOLD = 7.0  # the demo's approval threshold


def start_demo(tmp_path, port: int) -> subprocess.Popen:
    argv = ["--agents", str(AGENTS), "--interval", "0.4", "--warmup", "12", "--spacing", "5"]
    argv += ["--duration", "600", "--no-console", "--data-dir", str(tmp_path / "demo")]
    argv += ["--control-port", str(port), "--metrics-port", str(free_port())]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    # Its own session, so that a failed test can take down the whole stack with it; started
    # with SIGINT ignored, as a shell's background job is, and Ctrl-C must still stop it.
    argv = [sys.executable, "-m", "immune_demo", *argv]
    return subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=_ignore_sigint)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def newest(client: Client, agent: str):
    found = client.incidents(agent_id=agent)
    return client.incident(found[0].id) if found else None


@pytest.mark.timeout(600)
def test_demo_heals_every_fault_and_remembers_what_failed(tmp_path):
    port = free_port()
    demo = start_demo(tmp_path, port)
    chaos_log = tmp_path / "demo" / "chaos.json"
    try:
        assert wait_for(chaos_log.exists, timeout=180), "the demo did not start"
        strikes = json.loads(chaos_log.read_text())
        assert {s["fault"] for s in strikes} >= {"token_explosion", "tool_loop", "prompt_injection"}
        with Client(target=f"127.0.0.1:{port}", actor="demo-test") as client:
            approved: set[str] = set()

            def all_healed() -> bool:
                for incident in client.incidents(states=["pending_approval"]):
                    client.approve(incident.id, reason="the test approves severe cases")
                    approved.add(incident.agent_id)
                healed = {i.agent_id for i in client.incidents(states=["healed"], page_size=1000)}
                return all(s["agent"] in healed for s in strikes)

            assert wait_for(all_healed, timeout=400, pause=0.5), client.incidents()
            for strike in strikes:
                check_strike(client, strike, approved)
            check_memory(client)
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)


def check_strike(client: Client, strike: dict, approved: set[str]) -> None:
    incident = newest(client, strike["agent"])
    seen = {names.name(names.ANOMALY, a.type) for a in incident.anomalies}
    assert seen & set(strike["expected_anomalies"]), (strike, seen)
    asked = any(e.kind == "approval.requested" for e in incident.timeline)
    assert asked == (incident.severity >= THRESHOLD), (strike, incident.severity)
    assert asked == (strike["agent"] in approved)
    last = incident.actions[-1]
    assert names.name(names.ACTION, last.action) in strike["cures"], (strike, last)
    assert names.name(names.OUTCOME, last.outcome) == "succeeded"


def check_memory(client: Client) -> None:
    """At least one incident whose first action failed and whose next action healed it."""
    log = client.healing_log(page_size=1000)
    by_incident: dict[str, list] = {}
    for action in sorted(log, key=lambda a: a.attempt):
        by_incident.setdefault(action.incident_id, []).append(
            names.name(names.OUTCOME, action.outcome)
        )
    recovered = [o for o in by_incident.values() if o[0] != "succeeded" and o[-1] == "succeeded"]
    assert recovered, by_incident
    fleet = client.memory().fleet
    assert any(e.attempts > e.successes for e in fleet) and any(e.successes for e in fleet)
