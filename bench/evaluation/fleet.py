"""Fleet safety: a shared dependency fails for most of the fleet at once.

A real control (gRPC on loopback, a DuckDB file) and a real sidecar linked to
it serve a fleet; after the agents' baselines are learned, a shared model
provider slows down for ``struck`` of them. The figure is the share of the
fleet still serving (not quarantined in the sidecar) after each interval, once
control has answered the interval's reports, with the fleet's quarantine cap
on and with it off. (Between a report and control's waiver, the sidecar holds
an agent: that is the round trip, well under an interval.) The sidecar runs on
simulated minutes, as in the detection evaluation: its thresholds depend on the
interval's length, which wall time between exports would make a second or two.
"""

import contextlib
import dataclasses
import logging
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from immune_control.app import ControlApp
from immune_control.config import ApprovalSettings, ControlConfig
from immune_control.fleet import FleetSettings
from immune_sidecar.app import Sidecar
from immune_sidecar.config import SidecarConfig
from immune_sidecar.detect import BaselineSettings
from immune_sidecar.detect.baseline import BURSTS_SHOWN
from immune_sidecar.receiver.codec import PROTOBUF

from .detection import SimClock
from .scenario import generate
from .workload import HEALTHY, Effect, Recorder, draw

# Intervals the agents learn for: settled baselines (a first excursion waits up to two
# intervals before 60 samples, and a young level's lasting test gives up its uncertainty).
TRAINING = BURSTS_SHOWN + 2
OUTAGE = Effect(latency=5.0)
INTERVAL_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class FleetSafety:
    """Serving shares while the outage lasts, for one cap setting."""

    cap: float
    agents: int
    struck: int
    serving: tuple[float, ...]  # share of the fleet serving after each outage interval

    @property
    def lowest(self) -> float:
        """The smallest serving share seen."""
        return min(self.serving)

    @property
    def last(self) -> float:
        """The serving share at the outage's last interval."""
        return self.serving[-1]


def run(cap: float, agents: int = 40, struck: float = 0.8, intervals: int = 15, seed: int = 1):
    """One outage under a quarantine cap of ``cap`` (1.0: no cap)."""
    for name in ("immune_control", "immune_sidecar"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp, _control(Path(tmp) / "fleet.duckdb", cap) as control:
        clock = SimClock()
        clock.now = time.time()
        sidecar = _sidecar(control.port, clock)
        try:
            return _outage(sidecar, clock, cap, agents, struck, intervals, seed)
        finally:
            sidecar.stop()


@contextlib.contextmanager
def _control(db: Path, cap: float) -> Iterator[ControlApp]:
    """Control serving in a thread; stopped and waited for on the way out."""
    config = ControlConfig(
        listen="127.0.0.1:0",
        metrics="",
        db=str(db),
        health_interval_seconds=0.5,
        approval=ApprovalSettings(threshold=0.0),  # containment only: healing waits for a human
        fleet=FleetSettings(max_quarantined_share=cap),
    )
    app = ControlApp(config)
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    try:
        if not app.ready.wait(60):
            raise RuntimeError("control did not start")
        yield app
    finally:
        app.stop()
        thread.join(30)


def _sidecar(port: int, clock: SimClock) -> Sidecar:
    config = SidecarConfig(
        otlp_grpc="127.0.0.1:0",
        otlp_http="127.0.0.1:0",
        admin="127.0.0.1:0",
        control=f"127.0.0.1:{port}",
        sidecar_id="fleet-eval",
        max_requests_per_second=0,
        link_backoff_seconds=0.1,
        # As when each sidecar serves one agent's pod: control's cap is the only guard here.
        detection=BaselineSettings(shared_shift_share=0.0),
    )
    sidecar = Sidecar(config, clock=clock)
    sidecar.start()
    if not sidecar.link.connected.wait(30):
        raise RuntimeError("the sidecar did not link to control")
    return sidecar


def _outage(sidecar, clock, cap: float, agents: int, struck: float, intervals: int, seed: int):
    # Busy agents only: one idle through the outage makes no calls to be slow.
    fleet = [_busy(a) for a in generate(seed, agents, hours=1).agents]
    hit = {a.name for a in fleet[: round(struck * agents)]}
    recorders = {a.name: Recorder(a.name) for a in fleet}
    rng, start = random.Random(seed), clock.now
    try:
        for _ in range(TRAINING):  # (nothing to count: only the outage's are waited for)
            _export(sidecar, clock, start, fleet, recorders, rng, set())
        _settled_held(sidecar)  # what the training's reports brought, if any, has arrived
        serving = []
        for _ in range(intervals):
            _export(sidecar, clock, start, fleet, recorders, rng, hit)
            serving.append(1 - _settled_held(sidecar) / len(fleet))
    finally:
        for recorder in recorders.values():
            recorder.close()
    return FleetSafety(cap, agents, len(hit), tuple(serving))


def _busy(agent):
    return dataclasses.replace(agent, traits=dataclasses.replace(agent.traits, idle_share=0.0))


def _export(sidecar: Sidecar, clock: SimClock, start: float, fleet, recorders, rng, hit):
    """A minute passes and every agent exports once. The agents' load follows the time
    since ``start``, not the wall clock's time of day: the same run at any hour."""
    clock.now += INTERVAL_SECONDS
    now = clock.now
    for agent in fleet:
        effect = OUTAGE if agent.name in hit else HEALTHY
        ops = draw(agent.traits, effect, now - start, rng)
        body = recorders[agent.name].export(agent.traits, effect, ops, now)
        sidecar.handler.handle(body, PROTOBUF, "eval")


def _settled_held(sidecar: Sidecar, quiet: float = 1.0, limit: float = 30.0) -> int:
    """Agents held once control has acknowledged every report and the count has not
    changed for ``quiet`` seconds (its answers have arrived)."""
    start = changed = time.monotonic()
    count = len(sidecar.book.held(sidecar.clock()))
    while time.monotonic() - start < limit:
        time.sleep(0.1)
        now_held = len(sidecar.book.held(sidecar.clock()))
        if now_held != count or len(sidecar.link.outbox):
            count, changed = now_held, time.monotonic()
        elif time.monotonic() - changed >= quiet:
            break
    return count
