"""``immune-sidecar`` as a process: flags, environment, config file, exit codes, forwarding."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

from tests.support.agents import Profile, SimAgent
from tests.support.sidecar import get_json, start_sidecar

LISTEN = re.compile(r"OTLP/gRPC [\d.]+:(\d+), OTLP/HTTP [\d.]+:(\d+), admin [\d.]+:(\d+)")


def run(*args, env=None, timeout=20):
    return subprocess.run(
        [sys.executable, "-m", "immune_sidecar", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_bad_flag_exits_non_zero_with_a_message():
    done = run("--otlp-grpcc", "x")
    assert done.returncode == 2 and "unrecognized arguments: --otlp-grpcc" in done.stderr


def test_bad_config_key_and_value_are_named(tmp_path):
    bad_key = tmp_path / "bad.yaml"
    bad_key.write_text("max_agent: 5\n")
    done = run("--config", str(bad_key))
    assert done.returncode == 2 and "unknown config key max_agent" in done.stderr
    bad_nested = tmp_path / "nested.yaml"
    bad_nested.write_text("detection: {sigma_threshold: high}\n")
    done = run("--config", str(bad_nested))
    assert done.returncode == 2 and "detection.sigma_threshold" in done.stderr
    done = run(env={"IMMUNE_OTLP_HTTP": "localhost"})
    assert done.returncode == 2 and "otlp_http" in done.stderr and "HOST:PORT" in done.stderr
    done = run("--config", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2 and "cannot read config file" in done.stderr


def test_serves_logs_where_it_listens_and_persists_on_sigterm(tmp_path):
    config = tmp_path / "sidecar.yaml"
    # sample_seconds 0: the three exports below come at once, each an interval of its own.
    config.write_text(
        "otlp_http: 127.0.0.1:0\nadmin: 127.0.0.1:0\nmax_agents: 50\nsample_seconds: 0\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "immune_sidecar",
            "--config",
            str(config),
            "--state-dir",
            str(tmp_path / "state"),
        ],
        env={**os.environ, "IMMUNE_OTLP_GRPC": "127.0.0.1:0", "IMMUNE_ADMIN": "127.0.0.1:0"},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        grpc_port, _, admin_port = map(int, LISTEN.search(line).groups())
        agent = SimAgent("proc-agent", "grpc", grpc_port)
        for _ in range(3):
            agent.interval(Profile())
        agent.close()
        assert get_json(admin_port, "/v1/agents/proc-agent")[1]["samples"] == 3
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert (tmp_path / "state" / "baselines.json").exists()
    finally:
        process.kill()


def test_forward_tees_unchanged_and_a_dead_upstream_never_blocks():
    upstream = start_sidecar()
    silent = socket.socket()  # accepts connections, never answers: a hung Collector
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    slow = f"http://127.0.0.1:{silent.getsockname()[1]}"
    front = start_sidecar(forward=f"grpc://127.0.0.1:{upstream.ports['otlp_grpc']}")
    blocked = start_sidecar(forward=slow, forward_queue=2, forward_timeout_seconds=2)
    try:
        agent = SimAgent("teed", "http", front.ports["otlp_http"])
        for _ in range(3):
            agent.interval(Profile())
        agent.close()
        received = front.metrics.registry.get_sample_value(
            "immune_sidecar_requests_total", {"transport": "http", "outcome": "ok"}
        )

        def sent() -> float:
            return (
                front.metrics.registry.get_sample_value(
                    "immune_sidecar_forwarded_requests_total", {"outcome": "sent"}
                )
                or 0.0
            )

        # Forwarding is asynchronous: wait for the queue to drain, then compare.
        deadline = time.time() + 10
        while sent() < received and time.time() < deadline:
            time.sleep(0.05)
        assert sent() == received >= 3
        assert get_json(upstream.ports["admin"], "/v1/agents/teed")[1]["samples"] == 3

        agent = SimAgent("stuck", "grpc", blocked.ports["otlp_grpc"])
        started = time.monotonic()
        for _ in range(10):
            agent.interval(Profile())
        elapsed = time.monotonic() - started
        agent.close()
        assert get_json(blocked.ports["admin"], "/v1/agents/stuck")[1]["samples"] == 10
        dropped = blocked.metrics.registry.get_sample_value(
            "immune_sidecar_forwarded_requests_total", {"outcome": "dropped_queue_full"}
        )
        assert dropped and dropped >= 5, dropped
        assert elapsed < 5, f"ten exports took {elapsed:.1f}s behind a dead upstream"
    finally:
        for sidecar in (front, blocked, upstream):
            sidecar.stop()
        silent.close()
