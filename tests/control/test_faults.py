"""Faults with real processes and a real disk: SIGKILLs during approvals and quarantines,
control away while infections arrive, and the database's disk full or read-only.
After each: no incident, approval or action lost or duplicated, nobody released early."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest
from immune.v1 import common_pb2 as pb
from immune_sdk import Client, FailedPrecondition, Unavailable

from tests.support.agents import SETTLED
from tests.support.control import FAULT, ControlProcess, rig, start_control, wait_for
from tests.support.sidecar import free_port, get_json

S = pb.IncidentState
# Probation is long: its clock runs on the sidecar while control restarts, which on a loaded
# machine can take longer than a short window, and a lapsed probation tries the next action.
APPROVAL_CONFIG = """
health_interval_seconds: 0.3
approval: {threshold: 0}
healing: {action_timeout_seconds: 30, probation_samples: 2, probation_timeout_seconds: 600}
fleet: {min_fleet_size: 100, max_quarantined_share: 1.0}
"""


def states(client: Client, agent_id: str) -> list[int]:
    return [i.state for i in client.incidents(agent_id=agent_id)]


def test_control_killed_during_approvals_keeps_each_decision_once(tmp_path):
    db, port = str(tmp_path / "c.duckdb"), free_port()
    first = ControlProcess(db, port, APPROVAL_CONFIG)
    r = rig(tmp_path, control=first, cures={"revoke_tools"})
    client = Client(target=f"127.0.0.1:{port}", actor="ops", retries=6)
    agents = {name: r.agent(name, seed=n) for n, name in enumerate(("ka", "kb", "kc"))}
    try:
        for agent in agents.values():
            agent.interval(FAULT)
        assert wait_for(lambda: client.stats().pending_approvals == 3, timeout=30)
        client.approve(agent_id="ka", reason="before the crash")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        second = ControlProcess(db, port, APPROVAL_CONFIG)
        try:
            assert states(client, "kb") == [S.INCIDENT_STATE_PENDING_APPROVAL]
            assert states(client, "kc") == [S.INCIDENT_STATE_PENDING_APPROVAL]
            with pytest.raises(FailedPrecondition):
                client.approve(agent_id="ka", reason="twice")
            healed = r.drive(
                agents["ka"], lambda: states(client, "ka") == [S.INCIDENT_STATE_HEALED]
            )
            assert healed, states(client, "ka")
            approvals = [e for e in client.audit() if e.method == "ApproveHealing"]
            assert [(e.reason, e.result) for e in approvals] == [
                ("twice", "FAILED_PRECONDITION"),
                ("before the crash", "OK"),
            ]
            assert r.admin.actions == ["revoke_tools"]
            for name in ("kb", "kc"):  # still held: nobody approved them
                assert r.sidecar.book.state(name, r.sidecar.clock()) == "quarantined"
        finally:
            second.stop()
    finally:
        take_down(r, client, agents, first)


def take_down(r, client: Client, agents: dict, control: ControlProcess) -> None:
    """Close the client and agents, stop the sidecar and agent admin, then control."""
    client.close()
    for agent in agents.values():
        agent.close()
    r.sidecar.stop()
    r.admin.shutdown()
    control.stop()


class SidecarProcess:
    """immune-sidecar as its own process, so it can be SIGKILLed."""

    def __init__(self, control: int, state_dir: str, ports: dict[str, int]) -> None:
        self.ports = ports
        argv = [
            "--control", f"127.0.0.1:{control}",
            "--sidecar-id", "sc-k",
            "--state-dir", state_dir,
            "--otlp-grpc", f"127.0.0.1:{ports['otlp_grpc']}",
            "--otlp-http", f"127.0.0.1:{ports['otlp_http']}",
            "--admin", f"127.0.0.1:{ports['admin']}",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "immune_sidecar", *argv],
            env={**os.environ, "IMMUNE_SAMPLE_SECONDS": "0"},  # time is compressed here
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_for(self._up, timeout=60), "the sidecar did not start"

    def _up(self) -> bool:
        with contextlib.suppress(OSError):
            return get_json(self.ports["admin"], "/healthz")[0] == 200
        return False

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)


def test_sidecar_killed_while_its_agent_is_quarantined_keeps_it_held(tmp_path):
    from tests.support.agents import Profile, SimAgent

    control = start_control(str(tmp_path / "c.duckdb"), threshold=0.0, sidecar_silence_seconds=2.0)
    client = Client(target=f"127.0.0.1:{control.port}", actor="ops")
    ports = {k: free_port() for k in ("otlp_grpc", "otlp_http", "admin")}
    state_dir = str(tmp_path / "sc-k")
    sidecar = SidecarProcess(control.port, state_dir, ports)
    agent = SimAgent("held", "grpc", ports["otlp_grpc"], seed=5)
    try:
        for _ in range(SETTLED):
            agent.interval(Profile())
        agent.interval(FAULT)
        assert wait_for(lambda: client.stats().pending_approvals == 1, timeout=30)
        assert get_json(ports["admin"], "/readyz")[0] == 503
        sidecar.kill()
        assert wait_for(lambda: client.agent("held").agent.status == pb.AGENT_STATUS_UNREACHABLE)
        assert states(client, "held") == [S.INCIDENT_STATE_PENDING_APPROVAL]
        sidecar = SidecarProcess(control.port, state_dir, ports)
        assert get_json(ports["admin"], "/readyz")[0] == 503  # held again from its state dir
        agent.interval(FAULT)
        time.sleep(1.0)
        assert states(client, "held") == [S.INCIDENT_STATE_PENDING_APPROVAL]  # one incident
        assert client.stats().pending_approvals == 1
        assert get_json(ports["admin"], "/readyz")[0] == 503
    finally:
        agent.close()
        sidecar.stop()
        client.close()
        control.stop()


@contextlib.contextmanager
def small_disk(path, megabytes: int = 64):
    """A tmpfs of its own at ``path`` (the tests run as root, as CI does)."""
    path.mkdir()
    assert os.geteuid() == 0, "the disk fault tests mount a tmpfs and need root"
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], check=True
    )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(path) -> None:
    """Write until the disk is full."""
    with open(path / "filler", "ab", buffering=0) as out:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while out.write(b"\0" * size):
                    pass


# Two ladders the default is neither of, so the last accepted and the refused always differ.
LADDERS = (["reset_memory"], ["revoke_tools", "reset_memory"])


def write_ladders_until_refused(client: Client, tries: int = 20) -> tuple[list, Unavailable]:
    """Change a ladder until the full disk refuses it: the ladders accepted, and the refusal.

    A small write can still succeed on a full disk when it fits in the unused end of a page
    the database's files already hold, so the first write is not always the refused one."""
    accepted = []
    for n in range(tries):
        ladder = LADDERS[n % 2]
        try:
            client.upsert_policy("infinite_loop", ladder, reason=f"while broken {n}")
        except Unavailable as refused:
            return accepted, refused
        accepted.append(ladder)
    raise AssertionError(f"{tries} writes on a full disk were all accepted")


def test_a_full_disk_is_a_clear_error_and_loses_no_report(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        r = rig(tmp_path, control=start_control(str(disk / "c.duckdb"), threshold=0.0))
        client = Client(target=f"127.0.0.1:{r.control.port}", actor="ops", retries=0)
        agent = r.agent("on-disk")
        try:
            fill(disk)
            agent.interval(FAULT)  # reported while control cannot write it down
            time.sleep(1.0)
            fill(disk)  # whatever a failed write gave back
            accepted, refused = write_ladders_until_refused(client)
            assert "database write failed" in str(refused), refused
            assert client.stats() is not None  # reads go on
            assert r.sidecar.book.state("on-disk", r.sidecar.clock()) == "quarantined"
            os.remove(disk / "filler")
            assert wait_for(lambda: client.incidents(agent_id="on-disk"), timeout=30)
            time.sleep(1.0)
            found = client.incidents(agent_id="on-disk")
            assert [i.state for i in found] == [S.INCIDENT_STATE_PENDING_APPROVAL]
            ladder = next(p for p in client.policies() if p.diagnosis == pb.DIAGNOSIS_INFINITE_LOOP)
            now = [pb.Action.Name(a).removeprefix("ACTION_").lower() for a in ladder.actions]
            assert now != LADDERS[len(accepted) % 2]  # the refused change is not in
            if accepted:  # a change that fit in the files' last pages was acknowledged: kept
                assert now == accepted[-1]
        finally:
            client.close()
            agent.close()
            r.close()


def test_a_read_only_disk_stops_control_at_start_with_a_clear_error(tmp_path):
    with small_disk(tmp_path / "disk") as disk:
        made = start_control(str(disk / "c.duckdb"))
        made.stop()
        time.sleep(1.0)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        argv = ["--db", str(disk / "c.duckdb"), "--listen", f"127.0.0.1:{free_port()}"]
        done = subprocess.run(
            [sys.executable, "-m", "immune_control", *argv, "--metrics", ""],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert "cannot open database" in done.stderr and "Read-only file system" in done.stderr
    assert "Traceback" not in done.stderr


def test_control_away_while_infections_arrive_gets_each_once(tmp_path, outage_seconds):
    db, port = str(tmp_path / "c.duckdb"), free_port()
    first = ControlProcess(db, port, APPROVAL_CONFIG)
    r = rig(tmp_path, control=first)
    names = [f"away-{n}" for n in range(4)]
    agents = {name: r.agent(name, seed=n) for n, name in enumerate(names)}
    client = Client(target=f"127.0.0.1:{port}", actor="ops", retries=8)
    try:
        assert wait_for(lambda: len(client.agents()) == len(names))
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        pause = outage_seconds / len(names)
        for agent in agents.values():  # one infection after another while control is away
            agent.interval(FAULT)
            time.sleep(pause)
        assert len(r.sidecar.link.outbox) >= len(names)
        second = ControlProcess(db, port, APPROVAL_CONFIG)
        try:
            assert wait_for(lambda: client.stats().pending_approvals == len(names), timeout=60)
            time.sleep(1.0)  # a duplicate would have arrived by now
            for name in names:
                assert states(client, name) == [S.INCIDENT_STATE_PENDING_APPROVAL], name
                assert r.sidecar.book.state(name, r.sidecar.clock()) == "quarantined"
            assert wait_for(lambda: len(r.sidecar.link.outbox) == 0)
        finally:
            second.stop()
    finally:
        take_down(r, client, agents, first)


def test_a_slow_webhook_times_out_the_action_and_holds_up_nothing_else(tmp_path):
    r = rig(tmp_path, cures={"reduce_autonomy"}, stall_first=6.0)
    client = Client(target=f"127.0.0.1:{r.control.port}", actor="ops")
    slow, other = r.agent("slow", seed=1), r.agent("other", seed=2)
    try:
        slow.interval(FAULT)
        assert wait_for(lambda: client.healing_log(agent_id="slow"))  # the webhook now hangs
        other.interval(FAULT)  # the export is judged at once: no actuator stands in its way
        assert r.sidecar.book.state("other", r.sidecar.clock()) == "quarantined"
        assert wait_for(lambda: client.incidents(agent_id="other"), timeout=30)
        healed = r.drive(slow, lambda: states(client, "slow") == [S.INCIDENT_STATE_HEALED], 80)
        assert healed, client.incident(client.incidents(agent_id="slow")[0].id)
        actions = client.incident(client.incidents(agent_id="slow")[0].id).actions
        first = actions[0]
        assert (first.action, first.outcome) == (pb.ACTION_REVOKE_TOOLS, pb.ACTION_OUTCOME_FAILED)
        assert "timed out" in first.detail
        assert actions[-1].action == pb.ACTION_REDUCE_AUTONOMY
        assert [a.action for a in actions].count(pb.ACTION_REVOKE_TOOLS) == 1
    finally:
        client.close()
        slow.close()
        other.close()
        r.close()
