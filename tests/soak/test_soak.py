"""A bounded soak: 100 agents, each behind its own sidecar, reporting to control, with chaos.

Memory must level off, nothing may log an error, and every injected fault must
become an incident. ``--soak-seconds`` runs it longer (the default suits CI).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from immune_sdk import Client

from tests.support.control import wait_for
from tests.support.sidecar import free_port

AGENTS = 100
# Immune's own errors; the simulated agents' exporters log theirs under opentelemetry.*.
ERRORS = re.compile(r"(ERROR|CRITICAL) immune|Traceback")
AGENT_ERRORS = re.compile(r"ERROR opentelemetry")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next(x for x in status if x.startswith("VmRSS"))
    except (OSError, StopIteration):
        return 0.0
    return int(line.split()[1]) / 1024


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (control and the console of the demo)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as found:
            return [int(p) for p in found.read().split()]
    except OSError:
        return []


@pytest.mark.timeout(1800)
def test_a_hundred_agents_under_chaos_stay_bounded_and_accounted_for(tmp_path, soak_seconds):
    port, log_path = free_port(), tmp_path / "demo.log"
    argv = ["--agents", str(AGENTS), "--interval", "2", "--warmup", "10", "--spacing", "1"]
    argv += ["--duration", str(soak_seconds + 600), "--no-console"]
    argv += ["--data-dir", str(tmp_path / "demo"), "--control-port", str(port)]
    argv += ["--metrics-port", str(free_port())]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    with open(log_path, "w") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "immune_demo", *argv],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    chaos = tmp_path / "demo" / "chaos.json"
    try:
        assert wait_for(chaos.exists, timeout=300), log_path.read_text()[-3000:]
        strikes = json.loads(chaos.read_text())
        with Client(target=f"127.0.0.1:{port}", actor="soak") as client:
            hit = {s["agent"] for s in strikes}
            caught = lambda: hit <= {i.agent_id for i in client.incidents(page_size=1000)}  # noqa: E731
            # Memory is watched once the chaos has struck: its incidents and cures are a
            # step up in the working set, not a leak, and a step inside the last third of
            # the watch read as one.
            assert wait_for(caught, 600, 1.0), (hit, client.incidents(page_size=1000))
            samples = watch_memory(demo.pid, soak_seconds)
            assert len(client.agents()) == AGENTS
        demo.send_signal(signal.SIGINT)
        assert demo.wait(120) == 0
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    report(samples)
    assert_levels_off(samples)
    lines = log_path.read_text().splitlines()
    print(f"soak: {sum(bool(AGENT_ERRORS.search(x)) for x in lines)} agent export errors")
    errors = [line for line in lines if ERRORS.search(line)]
    assert not errors, errors[:20]


def watch_memory(pid: int, seconds: float) -> list[tuple[float, float]]:
    """(seconds since start, MiB of the demo and its children) every few seconds, for
    ``seconds``."""
    samples, start = [], time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        total = rss_mb(pid) + sum(rss_mb(child) for child in children(pid))
        samples.append((elapsed, total))
        time.sleep(5)
    return samples


def assert_levels_off(samples: list[tuple[float, float]]) -> None:
    """The last third peaks less than 15% above the first two thirds (no steady leak)."""
    third = len(samples) // 3
    before = max(mb for _, mb in samples[: 2 * third])
    last = max(mb for _, mb in samples[2 * third :])
    assert last <= before * 1.15, samples


def report(samples) -> None:
    figures = ", ".join(f"{t:.0f}s {mb:.0f} MiB" for t, mb in samples[:: max(1, len(samples) // 8)])
    print(f"soak memory (demo + control): {figures}")
