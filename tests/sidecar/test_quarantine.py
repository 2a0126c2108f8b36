"""Standalone ejection timing, state derived from time, and survival across restarts."""

import json
import logging
import math
import time

import pytest

from immune_sidecar.config import ActuatorConfig
from immune_sidecar.quarantine import (
    HEALTHY,
    PROBATION,
    QUARANTINED,
    EjectionPolicy,
    QuarantineBook,
)
from tests.support.agents import SETTLED, Profile, SimAgent
from tests.support.sidecar import get_json, start_sidecar

POLICY = EjectionPolicy(base_seconds=30, max_seconds=100, probation_seconds=60)


def eject(book, now, agent="a"):
    return book.eject(agent, "latency_spike", ("latency_spike",), 5.0, "inf-1", now)


def test_state_follows_the_clock():
    book = QuarantineBook(POLICY)
    entry = eject(book, 1000.0)
    assert (entry.until, entry.ejections) == (1030.0, 1)
    assert [book.state("a", t) for t in (1000, 1029.9, 1030, 1089.9, 1090)] == [
        QUARANTINED,
        QUARANTINED,
        PROBATION,
        PROBATION,
        HEALTHY,
    ]
    assert [e.agent_id for e in book.held(1010)] == ["a"] and book.held(1030) == []


def test_repeat_ejections_grow_to_the_maximum_and_decay_when_clean():
    book = QuarantineBook(POLICY)
    durations, now = [], 0.0
    for _ in range(5):  # re-infected the moment each quarantine ends
        entry = eject(book, now)
        durations.append(entry.until - now)
        now = entry.until
    assert durations == [30, 60, 90, 100, 100]
    # Clean for three base periods: the count drops by three (from 5 to 2), so 3 × 30 s.
    entry = eject(book, now + 90)
    assert entry.ejections == 3 and entry.until - entry.since == 90


def test_with_control_configured_release_waits_for_it():
    book = QuarantineBook(None)
    entry = eject(book, 0.0)
    assert entry.until is None and book.state("a", 10**9) == QUARANTINED
    assert book.release("a", 50.0, probation_seconds=20)
    assert book.state("a", 60.0) == PROBATION and book.state("a", 70.0) == HEALTHY
    assert not book.release("a", 80.0)  # not held any more


def test_every_change_is_persisted():
    saved = []
    book = QuarantineBook(POLICY, on_change=saved.append)
    eject(book, 0.0)
    restored = QuarantineBook(POLICY)
    restored.restore(saved[-1])
    assert restored.get("a") == book.get("a")


@pytest.mark.parametrize("transport", ["grpc", "http"])
def test_baselines_and_quarantine_survive_a_restart(tmp_path, transport):
    state = str(tmp_path / "state")
    sidecar = start_sidecar(state_dir=state)
    port = sidecar.ports[f"otlp_{transport}"]
    healthy, sick = SimAgent("steady", transport, port), SimAgent("sick", transport, port, seed=2)
    for _ in range(SETTLED):
        healthy.interval(Profile())
        sick.interval(Profile())
    sick.interval(Profile(latency=20.0))
    before = get_json(sidecar.ports["admin"], "/v1/agents/steady")[1]["baselines"]
    sidecar.stop()
    healthy.close()
    sick.close()

    again = start_sidecar(state_dir=state)
    try:
        status, ready = get_json(again.ports["admin"], "/readyz")
        assert status == 503 and [q["agent_id"] for q in ready["quarantined"]] == ["sick"]
        assert again.detector.baselines("steady") == before
        # Learned already: a fault right after the restart is caught without re-learning.
        agent = SimAgent("steady", transport, again.ports[f"otlp_{transport}"], seed=3)
        agent.interval(Profile())
        agent.interval(Profile(tool_calls=15))
        held = [q["agent_id"] for q in get_json(again.ports["admin"], "/readyz")[1]["quarantined"]]
        assert sorted(held) == ["sick", "steady"]
        agent.close()
    finally:
        again.stop()


def test_one_agent_s_damaged_baselines_cost_that_agent_alone(tmp_path, caplog):
    """A state file whose entry for one agent cannot be used (a level of NaN, which would
    never alarm again) restores the others; that agent learns afresh, and the log says so."""
    state = tmp_path / "state"
    sidecar = start_sidecar(state_dir=str(state))
    port = sidecar.ports["otlp_grpc"]
    agents = [SimAgent(name, "grpc", port, seed=i) for i, name in enumerate(("steady", "hurt"))]
    for _ in range(SETTLED):
        for agent in agents:
            agent.interval(Profile())
    for agent in agents:
        agent.close()
    before = sidecar.detector.baselines("steady")
    sidecar.stop()
    file = state / "baselines.json"
    saved = json.loads(file.read_text())
    saved["hurt"]["vitals"]["latency"]["mu"] = math.nan
    file.write_text(json.dumps(saved))

    with caplog.at_level(logging.ERROR, logger="immune_sidecar.state"):
        again = start_sidecar(state_dir=str(state))
    try:
        assert again.detector.baselines("steady") == before
        assert again.detector.baselines("hurt") == {}
        said = [r.getMessage() for r in caplog.records]
        assert any("hurt" in m and "vitals/latency/mu is nan" in m for m in said), said
    finally:
        again.stop()


def test_a_damaged_quarantine_record_releases_no_one_else(tmp_path, caplog):
    """A quarantine record of the wrong kinds (an ``until`` that is no time) is logged and
    left out on start-up; every other agent held stays held, and the state still works."""
    state = tmp_path / "state"
    state.mkdir()
    book, now = QuarantineBook(POLICY), time.time()
    records = [eject(book, now, agent).to_json() for agent in ("held", "hurt")]
    records[1]["until"] = "soon"
    (state / "quarantine.json").write_text(json.dumps(records))
    with caplog.at_level(logging.ERROR, logger="immune_sidecar.state"):
        sidecar = start_sidecar(state_dir=str(state))
    try:
        status, ready = get_json(sidecar.ports["admin"], "/readyz")
        assert status == 503 and [q["agent_id"] for q in ready["quarantined"]] == ["held"]
        said = [r.getMessage() for r in caplog.records]
        assert any("quarantine.json: entry 1" in m and "soon" in m for m in said), said
    finally:
        sidecar.stop()


def test_quarantine_records_restored_are_all_or_none():
    """A damaged record (of the wrong kind, or no number) restores no record at all."""
    saved: list[list[dict]] = []
    book = QuarantineBook(POLICY, on_change=saved.append)
    for agent in ("a", "b"):
        eject(book, 0.0, agent)
    for field, value in (("until", math.nan), ("ejections", -1), ("reason", 5), ("since", "0")):
        damaged = [dict(record) for record in saved[-1]]
        damaged[1][field] = value
        restored = QuarantineBook(POLICY)
        with pytest.raises((TypeError, ValueError), match="quarantine record"):
            restored.restore(damaged)
        assert restored.held(10.0) == []


def test_readiness_gate_can_be_dry_run_or_off():
    for actuators, expected in (([{"kind": "readiness", "dry_run": True}], True), ([], None)):
        sidecar = start_sidecar(actuators=tuple(ActuatorConfig(**a) for a in actuators))
        try:
            agent = SimAgent("gated", "grpc", sidecar.ports["otlp_grpc"])
            for _ in range(SETTLED):
                agent.interval(Profile())
            agent.interval(Profile(latency=20))
            agent.close()
            status, body = get_json(sidecar.ports["admin"], "/readyz")
            assert status == 200 and body.get("dry_run") is expected
            assert sidecar.book.state("gated", sidecar.clock()) == QUARANTINED
        finally:
            sidecar.stop()
