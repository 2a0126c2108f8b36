"""Feed a scenario through real sidecars, one per detector configuration, and note alarms.

Each configuration gets its own ``Sidecar`` (mapper, delta tracker, detector,
quarantine book) on a simulated clock, and every agent's OTLP bytes go through
its shared receive handler, as if they had come over the wire. The same bytes
go to every configuration. A quarantined agent stays held while its fault
lasts (healing is not what is measured here) and is released at the next
interval when there is no fault (an operator's release of a false alarm), so a
false alarm just before a fault does not hide the fault.
"""

import concurrent.futures
import dataclasses
import logging
import multiprocessing
import random
from collections.abc import Callable, Mapping

from immune_sidecar.app import Sidecar
from immune_sidecar.config import SidecarConfig
from immune_sidecar.detect import BaselineSettings, Infection
from immune_sidecar.quarantine import Ejection, EjectionPolicy
from immune_sidecar.receiver.codec import PROTOBUF
from immune_sidecar.receiver.signals import METRICS, Signal

from .scenario import Scenario
from .spans import SpanRecorder
from .workload import Operation, Recorder, Traits, draw

YEAR = 365 * 86_400.0
# A sidecar judges shared shifts among the agents it serves, so how the fleet is split
# between sidecars is part of the scenario, not of how many processes run it.
SIDECARS = 2


@dataclasses.dataclass(frozen=True)
class Alarm:
    """A quarantine: which agent, in which interval, for which anomaly types."""

    agent: str
    index: int
    types: tuple[str, ...]
    severity: float
    # A shared shift: reported as one outside cause, the agent not held.
    shared: bool = False
    # Intervals just before this one in which the agent made no calls: an idle agent's
    # sidecar hears of a fault's end only with its next call.
    quiet: int = 0


class SimClock:
    """Simulated time, moved by the scenario loop."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Bench:
    """One sidecar under one detector configuration, and the alarms it raised."""

    def __init__(
        self, settings: BaselineSettings, clock: SimClock, quiet: Mapping[str, int] | None = None
    ) -> None:
        held = EjectionPolicy(base_seconds=YEAR, max_seconds=YEAR, probation_seconds=0.0)
        config = SidecarConfig(
            detection=settings, ejection=held, actuators=(), max_requests_per_second=0
        )
        self.sidecar = Sidecar(config, clock=clock)
        self.alarms: list[Alarm] = []
        self.index = 0
        # Per agent, the intervals since its last calls (the scenario loop keeps them).
        self.quiet: Mapping[str, int] = quiet if quiet is not None else {}
        self.sidecar.pipeline.add_listener(self._alarm)

    def _alarm(self, infection: Infection, ejection: Ejection) -> None:
        self.alarms.append(Alarm(infection.agent_id, self.index, infection.types,
                                 infection.severity, infection.shared,
                                 self.quiet.get(infection.agent_id, 0)))  # fmt: skip

    def settle(self, now: float) -> None:
        """Mark shared the interval's alarms whose agents a shared shift set free."""
        held = {e.agent_id for e in self.sidecar.book.held(now)}
        for i in range(len(self.alarms) - 1, -1, -1):
            alarm = self.alarms[i]
            if alarm.index != self.index:
                break
            if alarm.agent not in held:
                self.alarms[i] = dataclasses.replace(alarm, shared=True)

    def feed(self, body: bytes, signal: Signal = METRICS) -> None:
        """One agent's export, through the receive handler."""
        self.sidecar.handler.handle(body, PROTOBUF, "eval", signal=signal)

    def tick(self) -> None:
        """The sidecar's timer: samples of agents whose spans waited long enough."""
        self.sidecar.pipeline.tick()

    def release_unless(self, still_faulty: Callable[[str], bool], now: float) -> None:
        """Release every held agent whose fault is over."""
        for ejection in self.sidecar.book.held(now):
            if not still_faulty(ejection.agent_id):
                self.sidecar.book.release(ejection.agent_id, now)

    def close(self) -> None:
        """Stop the sidecar's actuator thread."""
        self.sidecar.runner.close()


def run(
    scenario: Scenario,
    configs: Mapping[str, BaselineSettings],
    workers: int = 1,
    sidecars: int = SIDECARS,
) -> dict[str, list[Alarm]]:
    """Every configuration's alarms over the whole scenario, the agents split between
    ``sidecars`` sidecars, run by up to ``workers`` processes (which change no alarm)."""
    names = [a.name for a in scenario.agents]
    shares = [names[i::sidecars] for i in range(sidecars)]
    count = len(shares)
    if workers == 1:
        parts = list(map(run_agents, [scenario] * count, [configs] * count, shares))
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            parts = list(pool.map(run_agents, [scenario] * count, [configs] * count, shares))
    return {name: [alarm for part in parts for alarm in part[name]] for name in configs}


def exports(traits: Traits, ops: list[Operation], end: float, interval: float):
    """The interval's exports as (time, calls): one at its end, or, for an agent whose SDK
    exports more often, one every ``export_seconds`` with the calls spread over them."""
    parts = max(1, round(interval / traits.export_seconds))
    step = interval / parts
    return [(end - (parts - 1 - j) * step, ops[j::parts]) for j in range(parts)]


def recorder_for(name: str, traits: Traits) -> Recorder | SpanRecorder:
    """What encodes the agent's exports: metrics, or spans alone."""
    if traits.telemetry == "spans":
        return SpanRecorder(name)
    return Recorder(name, traits.advised_buckets)


def run_agents(
    scenario: Scenario, configs: Mapping[str, BaselineSettings], names: list[str]
) -> dict[str, list[Alarm]]:
    """The alarms of the named agents, interval by interval, under every configuration."""
    logging.getLogger("immune_sidecar").setLevel(logging.ERROR)
    agents = [a for a in scenario.agents if a.name in set(names)]
    clock = SimClock()
    quiet = dict.fromkeys(names, 0)
    benches = {name: Bench(settings, clock, quiet) for name, settings in configs.items()}
    recorders = {a.name: recorder_for(a.name, a.traits) for a in agents}
    rngs = {a.name: random.Random(f"{scenario.seed}:{a.name}") for a in agents}
    try:
        for index in range(scenario.intervals):
            clock.now = (index + 1) * scenario.interval_seconds
            _interval(scenario, agents, index, clock, benches, recorders, rngs, quiet)
    finally:
        for bench in benches.values():
            bench.close()
        for recorder in recorders.values():
            recorder.close()
    return {name: bench.alarms for name, bench in benches.items()}


def _interval(scenario, agents, index, clock, benches, recorders, rngs, quiet) -> None:
    now = clock.now
    for bench in benches.values():
        bench.index = index
    for agent in agents:
        effect = scenario.effect(agent, index)
        ops = draw(agent.traits, effect, now, rngs[agent.name])
        sends = recorders[agent.name]
        for clock.now, part in exports(agent.traits, ops, now, scenario.interval_seconds):
            if not part and sends.signal is not METRICS:
                continue  # a span processor exports only what it holds
            body = sends.export(agent.traits, effect, part, clock.now)
            for bench in benches.values():
                bench.feed(body, sends.signal)
        quiet[agent.name] = 0 if ops else quiet[agent.name] + 1

    def still_faulty(agent_id: str) -> bool:
        now_and_next = (scenario.episode_at(agent_id, i) for i in (index, index + 1))
        return all(episode is not None for episode in now_and_next)

    clock.now = now
    for bench in benches.values():
        bench.tick()  # an alarm here counts the interval's silence too: its calls came before
        bench.settle(now)
        bench.release_unless(still_faulty, now)
