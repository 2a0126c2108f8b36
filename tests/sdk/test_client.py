"""The Python client and immunectl against a real control, sidecar and SDK agents on loopback."""

import asyncio
import io
import json
import os
import subprocess
import sys

import pytest
from immune_sdk import AsyncClient, Client, FailedPrecondition, NotFound, Unavailable
from immune_sdk.cli import main as immunectl

from tests.support.control import FAULT, rig, wait_for


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A control with three agents whose severe faults all wait for approval."""
    r = rig(tmp_path_factory.mktemp("fleet"), threshold=0.0)
    agents = [r.agent(f"cli-{i}", seed=i) for i in range(3)]
    for a in agents:
        a.interval(FAULT)
    client = Client(target=f"127.0.0.1:{r.control.port}", actor="alice")
    assert wait_for(lambda: client.stats().pending_approvals == 3)
    yield r, client
    client.close()
    for a in agents:
        a.close()
    r.close()


def ctl(r, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = immunectl(["--control", f"127.0.0.1:{r.control.port}", "--actor", "bob", *argv], out)
    return code, out.getvalue()


def test_client_approves_once_and_names_the_status_when_refused(fleet):
    _, client = fleet
    pending = client.incidents(states=["pending_approval"])
    target = pending[0]
    done = client.approve(target.id, reason="evidence checked")
    assert done.state != target.state and done.id == target.id
    with pytest.raises(FailedPrecondition) as refused:
        client.approve(target.id)
    assert refused.value.method == "ApproveHealing" and "pending" in refused.value.message
    with pytest.raises(NotFound):
        client.incident("no-such-incident")
    entry = client.audit(actor="alice")[0]
    assert (entry.method, entry.result) == ("ApproveHealing", "FAILED_PRECONDITION")
    with pytest.raises(ValueError):
        client.approve("x", agent_id="y")


def test_immunectl_reject_heal_and_read_with_exit_codes(fleet, tmp_path):
    r, client = fleet
    pending = [i.id for i in client.incidents(states=["pending_approval"])]
    code, text = ctl(r, "reject", pending[0], "--reason", "not now")
    assert code == 0 and "rejected" in text
    assert ctl(r, "reject", pending[0])[0] == 4
    assert ctl(r, "incident", "nope")[0] == 3
    code, text = ctl(r, "incident", pending[0])
    assert code == 0 and "approval.rejected" in text and "reason: not now" in text
    code, text = ctl(r, "-o", "json", "incidents", "--state", "rejected")
    assert code == 0 and [i["id"] for i in json.loads(text)] == [pending[0]]
    code, text = ctl(r, "heal", "--all", "--reason", "try again")
    assert code == 0 and pending[0] in text
    code, text = ctl(r, "agents")
    assert code == 0 and text.count("cli-") == 3 and text.startswith("ID")
    code, text = ctl(r, "audit", "--actor", "bob")
    assert code == 0 and "RejectHealing" in text and "HealAll" in text
    code, text = ctl(r, "events", "--limit", "5")
    assert code == 0 and len(text.splitlines()) == 5
    assert ctl(r, "stats")[1].startswith("agents:")


def test_immunectl_policies_from_a_file(fleet, tmp_path):
    r, _ = fleet
    bad = tmp_path / "bad.yaml"
    bad.write_text("prompt_drift: [reset_memory, reboot_universe]\n")
    assert ctl(r, "policy", "set", str(bad))[0] == 2
    good = tmp_path / "good.yaml"
    good.write_text("prompt_drift: [rollback_prompt, reset_memory]\n")
    code, text = ctl(r, "policy", "set", str(good), "--reason", "faster")
    assert code == 0 and "rollback_prompt → reset_memory" in text
    code, text = ctl(r, "-o", "json", "policies")
    drift = next(p for p in json.loads(text) if p["diagnosis"] == "DIAGNOSIS_PROMPT_DRIFT")
    assert drift["actions"] == ["ACTION_ROLLBACK_PROMPT", "ACTION_RESET_MEMORY"]
    assert drift["update_actor"] == "bob"


def test_async_client_reads_and_watches(fleet):
    r, _ = fleet

    async def run():
        async with AsyncClient(target=f"127.0.0.1:{r.control.port}", actor="carol") as aio:
            stats = await aio.stats()
            events = []
            async for event in aio.watch(after_sequence=0):
                events.append(event)
                if event.sequence >= stats.last_event_sequence:
                    break
            pending = await aio.incidents(states=["pending_approval"])
            return stats, events, pending

    stats, events, pending = asyncio.run(run())
    assert [e.sequence for e in events][:1] == [1]
    assert events[-1].sequence == stats.last_event_sequence
    assert {e.kind for e in events} >= {"incident.detected", "approval.requested"}
    assert stats.agents_total == 3 and all(i.state for i in pending)


def test_unreachable_control_is_a_retryable_error_and_exit_5():
    options = {"timeout_seconds": 2, "retries": 1, "backoff_seconds": 0.05}
    with Client(target="127.0.0.1:1", **options) as c, pytest.raises(Unavailable):
        c.stats()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "immune_sdk.cli",
            "--control",
            "127.0.0.1:1",
            "--timeout",
            "2",
            "stats",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 5 and "UNAVAILABLE" in done.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "immune_sdk.cli", "approve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "--all" in help_text and "--reason" in help_text
