"""A simulated agent: its kind's normal work, a fault when chaos strikes, and its cure."""

import dataclasses
import threading

from .emitter import Emitter, Profile
from .faults import Fault
from .kinds import Kind


@dataclasses.dataclass(frozen=True)
class Applied:
    """One healing action the agent received, and whether it cured the fault."""

    action: str
    fault: str
    cured: bool


class DemoAgent:
    """Emits its kind's normal profile, or the fault's, until an action that cures it arrives."""

    def __init__(self, name: str, kind: Kind, emitter: Emitter) -> None:
        self.name, self.kind, self.emitter = name, kind, emitter
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self.applied: list[Applied] = []
        self.faults: list[str] = []

    @property
    def fault(self) -> Fault | None:
        """The fault the agent suffers now, if any."""
        with self._lock:
            return self._fault

    def strike(self, fault: Fault) -> None:
        """Chaos: the agent starts misbehaving."""
        with self._lock:
            self._fault = fault
            self.faults.append(fault.name)

    def apply(self, action: str) -> str:
        """A healing action, performed on the agent; returns what it did."""
        with self._lock:
            fault = self._fault
            cured = fault is not None and action in fault.cures
            self.applied.append(Applied(action, fault.name if fault else "", cured))
            if cured:
                self._fault = None
        if fault is None:
            return f"{action}: nothing to cure"
        return f"{action}: {'cured' if cured else 'did not cure'} {fault.name}"

    def profile(self) -> Profile:
        """What this interval's work looks like."""
        fault = self.fault
        return fault.change(self.kind.normal) if fault else self.kind.normal

    def work(self) -> bool:
        """Do one interval of work and export its telemetry."""
        return self.emitter.interval(self.profile())
