"""Everything `make demo` runs: control and the console as processes, a sidecar per agent,
the agents themselves and their admin endpoint."""

import ctypes
import dataclasses
import logging
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from immune_sdk import Client, ImmuneError

from immune_sidecar.app import Sidecar
from immune_sidecar.config import ActuatorConfig, SidecarConfig

from .admin import AdminServer
from .agent import DemoAgent
from .emitter import Emitter, make_exporter
from .kinds import KINDS

log = logging.getLogger(__name__)
STOPPERS = 16
PR_SET_PDEATHSIG = 1  # prctl(2)
READY_SECONDS = 120.0


@dataclasses.dataclass(frozen=True)
class StackConfig:
    """Sizes, addresses and where state lives."""

    agents: int = 15
    data_dir: str = "./data/demo"
    control_port: int = 50051
    metrics_port: int = 9465
    console_port: int = 8090
    console: bool = True
    interval_seconds: float = 2.0


CONTROL_CONFIG = """\
health_interval_seconds: 2
sidecar_silence_seconds: 20
approval: {{threshold: 7.0, ttl_seconds: {ttl}, on_expiry: approve}}
healing:
  action_timeout_seconds: 10
  probation_samples: 3
  probation_timeout_seconds: {probation}
fleet: {{max_quarantined_share: 0.5}}
"""


class Stack:
    """Starts the parts in order and stops them in reverse."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.data = pathlib.Path(config.data_dir)
        self.control_target = f"127.0.0.1:{config.control_port}"
        self.processes: list[subprocess.Popen] = []
        self.sidecars: list[Sidecar] = []
        self.agents: list[DemoAgent] = []
        self.admin = AdminServer({})

    def start(self) -> None:
        """Fresh state, then control and the console, then a sidecar and an agent at a time."""
        shutil.rmtree(self.data, ignore_errors=True)
        (self.data / "sidecars").mkdir(parents=True)
        # Both processes start before this one uses gRPC: forking after it is noisy.
        self._spawn_control()
        if self.config.console:
            self._spawn(
                "immune_console",
                "--control",
                self.control_target,
                "--listen",
                f"127.0.0.1:{self.config.console_port}",
                "--operator",
                "demo-operator",
            )
        self._await_control()
        self.admin.start()
        for n in range(self.config.agents):
            self._start_agent(n)

    def _spawn_control(self) -> None:
        config = self.data / "control.yaml"
        ttl, probation = 300, max(30, 20 * self.config.interval_seconds)
        config.write_text(CONTROL_CONFIG.format(ttl=ttl, probation=probation))
        self._spawn(
            "immune_control",
            "--listen",
            self.control_target,
            "--db",
            str(self.data / "control.duckdb"),
            "--config",
            str(config),
            "--metrics",
            f"127.0.0.1:{self.config.metrics_port}",
            "--log-level",
            "warning",
        )

    def _await_control(self) -> None:
        control = self.processes[0]
        with Client(target=self.control_target, retries=0, timeout_seconds=2) as client:
            deadline = time.monotonic() + READY_SECONDS
            while True:
                try:
                    client.stats()
                    return
                except ImmuneError:
                    if time.monotonic() > deadline or control.poll() is not None:
                        raise RuntimeError("control did not start; see its log above") from None
                    time.sleep(0.3)

    def _start_agent(self, n: int) -> None:
        kind = KINDS[n % len(KINDS)]
        name = f"{kind.name}-{n:02d}"
        sidecar = Sidecar(
            SidecarConfig(
                otlp_grpc="127.0.0.1:0",
                otlp_http="127.0.0.1:0",
                admin="127.0.0.1:0",
                control=self.control_target,
                sidecar_id=f"sc-{name}",
                state_dir=str(self.data / "sidecars" / name),
                log_level="warning",
                sample_seconds=0.0,  # the demo compresses time: each export is an interval
                actuators=(
                    ActuatorConfig(),
                    ActuatorConfig(kind="webhook", url=self.admin.url(name)),
                ),
            )
        )
        sidecar.start()
        self.sidecars.append(sidecar)
        transport = "grpc" if n % 2 == 0 else "http"
        exporter = make_exporter(transport, sidecar.ports[f"otlp_{transport}"])
        agent = DemoAgent(
            name, kind, Emitter(name, exporter, seed=n, attributes={"demo.kind": kind.name})
        )
        self.admin.agents[name] = agent
        self.agents.append(agent)

    def _spawn(self, module: str, *argv: str) -> None:
        argv = [sys.executable, "-m", module, *argv]
        self.processes.append(subprocess.Popen(argv, preexec_fn=_die_with_parent))

    def stop(self) -> None:
        """Stop agents, sidecars, the admin endpoint, then the console and control."""
        # Each stop waits on its own threads and sockets; side by side, a big fleet stops fast.
        with ThreadPoolExecutor(STOPPERS) as pool:
            list(pool.map(lambda agent: agent.emitter.close(), self.agents))
            list(pool.map(lambda sidecar: sidecar.stop(), self.sidecars))
        self.admin.stop()
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def _die_with_parent() -> None:
    """In the child: be sent SIGTERM when the demo dies, even by SIGKILL (Linux only)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
