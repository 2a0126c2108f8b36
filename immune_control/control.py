"""Control's core: the ledger, diagnosis, healing, approvals, memory and policies, wired
from the store, and the clock's work (expiries, timeouts). What sidecars report comes in
through ``link.reports``; what people and automation decide, through ``api.decisions``."""

import time
from collections.abc import Callable

from .approvals import Approvals
from .commands import Courier
from .config import ControlConfig
from .diagnosis import Diagnoser
from .healing import AUTOMATIC, HOUR, Healer
from .intake import Intake
from .ledger import Ledger
from .memory import ImmuneMemory
from .model import (
    PENDING,
    Incident,
    Sample,
)
from .policies import Policy, defaults
from .store import Store


class Control:
    """Incidents, approvals, healing and memory behind one lock."""

    def __init__(
        self,
        config: ControlConfig,
        store: Store,
        courier: Courier,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config, self.store, self.clock = config, store, clock
        self.started = clock()
        self.ledger = Ledger(config, store, courier, clock)
        self.memory = ImmuneMemory()
        for action in store.finished_actions():
            self.memory.record(action)
        self.diagnoser = Diagnoser()
        for verdict in store.feedback():
            self.diagnoser.learn(verdict)
        self.policies = defaults(config.policies)
        for diagnosis, actions, actor, when in store.policies():
            self.policies[diagnosis] = Policy(diagnosis, actions, actor, when)
        recent = store.actions_since(self.started - HOUR, AUTOMATIC)
        self.healer = Healer(self.ledger, self.memory, self.policies, recent)
        self.intake = Intake(self.ledger, self.healer, self.diagnoser)
        self.approvals = Approvals(self.ledger, self.healer, self.diagnoser)
        self._samples: list[Sample] = []

    def keep_sample(self, sample: Sample) -> None:
        """Buffer a reported sample; the next tick stores it."""
        self._samples.append(sample)

    def tick(self) -> None:
        """Expire approvals, time out silent actions, store buffered samples."""
        now = self.clock()
        with self.ledger.lock:
            for incident in list(self.ledger.incidents.values()):
                self._due(incident, now)
            samples, self._samples = self._samples, []
        if samples:
            with self.ledger.change():
                self.store.add_samples(samples)

    def _due(self, incident: Incident, now: float) -> None:
        expire = incident.approval_expire_time
        if incident.state == PENDING and expire is not None and now >= expire:
            with self.ledger.change():
                self.approvals.expire(incident, self.config.approval.on_expiry)
        elif self.healer.overdue(incident, now, awake_since=self.started):
            with self.ledger.change():
                self.healer.time_out(incident)
