"""Control's Prometheus metrics: incidents, approvals, healing outcomes, link traffic."""

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .ledger import Ledger
from .model import PENDING


class StoreCollector(Collector):
    """Counts read from the store at scrape time, so they survive restarts."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def collect(self):
        """Incidents by state and current diagnosis; healing actions by action and outcome."""
        incidents = GaugeMetricFamily(
            "immune_incidents", "Incidents by state and diagnosis", labels=["state", "diagnosis"]
        )
        for state, diagnosis, count in self._ledger.store.incident_counts():
            incidents.add_metric([state, diagnosis], count)
        actions = GaugeMetricFamily(
            "immune_healing_actions",
            "Healing actions by action and outcome",
            labels=["action", "outcome"],
        )
        for action, outcome, count in self._ledger.store.action_counts():
            actions.add_metric([action, outcome], count)
        yield incidents
        yield actions


class ControlMetrics:
    """Every metric of one control process, on its own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.link_messages = Counter(
            "immune_link_messages",
            "Messages received from sidecars, by kind",
            ["kind"],
            registry=registry,
        )
        self.refused = Counter(
            "immune_refused",
            "API calls and link messages refused (or, for reason=rate, slowed) by a limit or a "
            "permission, by where and why",
            ["where", "reason"],
            registry=registry,
        )
        self.approvals_pending = Gauge(
            "immune_approvals_pending", "Incidents waiting for ApproveHealing", registry=registry
        )
        self.link_connections = Gauge(
            "immune_link_connections", "Sidecars with an open link stream", registry=registry
        )

    def watch(self, ledger: Ledger, connected: Callable[[], int]) -> None:
        """Derive the gauges from control's live state."""
        self.registry.register(StoreCollector(ledger))
        self.approvals_pending.set_function(
            lambda: sum(1 for i in list(ledger.incidents.values()) if i.state == PENDING)
        )
        self.link_connections.set_function(connected)
