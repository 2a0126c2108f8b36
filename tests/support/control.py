"""A real control (DuckDB file, gRPC on loopback), a real sidecar linked to it, an SDK agent
whose admin endpoint really changes its behaviour when an action cures it."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
from immune.v1 import control_pb2 as api
from immune.v1 import control_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from immune_control.app import ControlApp
from immune_control.config import ApprovalSettings, ControlConfig, HealingSettings
from immune_sidecar.config import ActuatorConfig
from tests.support.agents import SETTLED, Profile, SimAgent
from tests.support.sidecar import start_sidecar

FAULT = Profile(tool_calls=12)


def start_control(db: str, threshold: float = 11.0, **overrides) -> ControlApp:
    """An in-process control on a free port, serving until ``stop``."""
    config = ControlConfig(
        listen="127.0.0.1:0",
        metrics=overrides.pop("metrics", ""),
        db=db,
        health_interval_seconds=0.3,
        approval=overrides.pop("approval", ApprovalSettings(threshold=threshold)),
        healing=overrides.pop(
            "healing",
            HealingSettings(
                action_timeout_seconds=10, probation_samples=2, probation_timeout_seconds=20
            ),
        ),
        **overrides,
    )
    return run_control(config)


def run_control(config: ControlConfig) -> ControlApp:
    """Serve ``config`` in a background thread once it is ready."""
    app = ControlApp(config)
    threading.Thread(target=app.run, daemon=True).start()
    assert app.ready.wait(30), "control did not start"
    return app


class AgentAdmin(ThreadingHTTPServer):
    """The simulated agent's admin endpoint: records actions; ``cures`` fix the fault."""

    def __init__(self, cures: set[str], stall_first: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _AdminHandler)
        self.cures, self.actions, self.cured = cures, [], False
        # The first healing action hangs this long before the agent answers.
        self.stall_first = stall_first
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/admin"


class _AdminHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["command"] == "apply_action":
            stall, self.server.stall_first = self.server.stall_first, 0.0
            time.sleep(stall)
            self.server.actions.append(body["action"])
            self.server.cured |= body["action"] in self.server.cures
        reply = json.dumps({"ok": True, "message": f"{body['action'] or body['command']} done"})
        self.send_response(200)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass


@dataclasses.dataclass
class Rig:
    """Control, a sidecar linked to it, a client stub, and trained agents."""

    control: ControlApp
    sidecar: object
    admin: AgentAdmin
    channel: grpc.Channel
    stub: control_pb2_grpc.ControlServiceStub

    def agent(self, name: str, seed: int = 7, intervals: int = SETTLED) -> SimAgent:
        agent = SimAgent(name, "grpc", self.sidecar.ports["otlp_grpc"], seed=seed)
        for _ in range(intervals):
            agent.interval(Profile())
        return agent

    def drive(self, agent: SimAgent, until, intervals: int = 40, pause: float = 0.15):
        """Send intervals (the fault until cured) until ``until()`` holds; returns its value."""
        for _ in range(intervals):
            found = until()
            if found:
                return found
            agent.interval(Profile() if self.admin.cured else FAULT)
            time.sleep(pause)
        return until()

    def incident(self, agent_id: str) -> api.GetIncidentResponse:
        found = self.stub.ListIncidents(api.ListIncidentsRequest(agent_id=agent_id)).incidents
        return self.stub.GetIncident(api.GetIncidentRequest(incident_id=found[0].id)).incident

    def close(self) -> None:
        self.channel.close()
        self.sidecar.stop()
        self.control.stop()
        self.admin.shutdown()


def rig(
    tmp_path,
    cures=frozenset({"revoke_tools"}),
    threshold=11.0,
    sidecar_id="sc-1",
    control=None,
    stall_first=0.0,
    sidecar_overrides=None,
    **control_overrides,
) -> Rig:
    control = control or start_control(
        str(tmp_path / "control.duckdb"), threshold, **control_overrides
    )
    admin = AgentAdmin(set(cures), stall_first)
    sidecar = start_sidecar(
        control=f"127.0.0.1:{control.port}",
        sidecar_id=sidecar_id,
        state_dir=str(tmp_path / sidecar_id),
        link_backoff_seconds=0.1,
        link_max_backoff_seconds=0.5,
        actuators=(
            ActuatorConfig(),
            ActuatorConfig(kind="webhook", url=admin.url, retries=0, timeout_seconds=2),
        ),
        **(sidecar_overrides or {}),
    )
    assert sidecar.link.connected.wait(20), "sidecar did not connect to control"
    channel = grpc.insecure_channel(f"127.0.0.1:{control.port}")
    return Rig(control, sidecar, admin, channel, control_pb2_grpc.ControlServiceStub(channel))


def wait_for(predicate, timeout: float = 20.0, pause: float = 0.1):
    """Poll until ``predicate()`` is truthy; returns its value (or the last falsy one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(pause)
    return predicate()


CONFIG = """
health_interval_seconds: 0.3
approval: {threshold: 11}
healing: {action_timeout_seconds: 30, probation_samples: 2, probation_timeout_seconds: 30}
"""


class ControlProcess:
    """immune-control as its own process, so it can be SIGKILLed."""

    def __init__(self, db: str, port: int, settings: str = CONFIG) -> None:
        self.port = port
        config = f"{db}.yaml"
        with open(config, "w") as out:
            out.write(settings)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "immune_control",
                "--listen",
                f"127.0.0.1:{port}",
                "--metrics",
                "",
                "--db",
                db,
                "--config",
                config,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ),
        )
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


def scrape(app) -> dict[tuple, float]:
    """Control's Prometheus metrics as {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{app.metrics_port}/metrics") as reply:
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
