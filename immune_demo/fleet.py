"""The simulated fleet's clock: each interval, chaos strikes on schedule and every agent works."""

import logging
import threading
import time
from collections.abc import Sequence

from .agent import DemoAgent
from .chaos import Strike

log = logging.getLogger(__name__)


class DemoFleet:
    """Runs the agents' intervals until stopped or ``intervals`` have passed."""

    def __init__(
        self, agents: Sequence[DemoAgent], strikes: Sequence[Strike], interval_seconds: float
    ):
        self.agents = {a.name: a for a in agents}
        self.strikes = list(strikes)
        self.interval_seconds = interval_seconds
        self.tick = 0

    def run(self, stop: threading.Event, intervals: int = 0) -> None:
        """One interval at a time, on a steady clock."""
        start = time.monotonic()
        while not stop.is_set() and (not intervals or self.tick < intervals):
            self.step()
            self.tick += 1
            stop.wait(max(0.0, start + self.tick * self.interval_seconds - time.monotonic()))

    def step(self) -> None:
        """Inject what is due, then let every agent do one interval of work."""
        for strike in self.strikes:
            if strike.interval == self.tick:
                log.warning(
                    "chaos: %s strikes %s (%s)", strike.fault.name, strike.agent, strike.fault.what
                )
                self.agents[strike.agent].strike(strike.fault)
        for agent in self.agents.values():
            if not agent.work():
                log.info("%s: export failed; the sidecar may be busy", agent.name)
