"""The sidecar's own Prometheus metrics, on a registry it is given.

Every label takes values from a fixed set (transports, outcomes, anomaly
types, reasons), never from agent ids or metric names, so cardinality is bounded.
"""

import functools

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "immune_sidecar_"


def _by_transport(registry: CollectorRegistry, name: str, what: str) -> Counter:
    return Counter(
        PREFIX + name, f"{what} by transport and outcome", ["transport", "outcome"],
        registry=registry,
    )  # fmt: skip


class SidecarMetrics:
    """Counters, gauges and histograms of ingestion, detection and forwarding."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        by_transport = functools.partial(_by_transport, registry)
        self.requests = by_transport("requests", "OTLP export requests")
        self.points = by_transport("points", "OTLP data points (accepted, refused)")
        self.spans = by_transport("spans", "OTLP spans (accepted, refused)")
        self.log_records = by_transport(
            "log_records", "OTLP log records (accepted, refused); forwarded only"
        )
        self.coarse_histograms = Counter(
            PREFIX + "coarse_latency_samples",
            "Samples whose latency buckets were too coarse to locate a p95 (none judged)",
            registry=registry,
        )
        self.unmapped_points = Counter(
            PREFIX + "unmapped_points",
            "Accepted points of metrics that feed no vital",
            registry=registry,
        )
        self.drift_metrics = Gauge(
            PREFIX + "schema_drift_metrics",
            "GenAI-looking metric names that match no rule",
            registry=registry,
        )
        self._items = {"metrics": self.points, "traces": self.spans, "logs": self.log_records}
        self.samples = Counter(PREFIX + "samples", "Vital samples judged", registry=registry)
        self.unjudged = Counter(
            PREFIX + "unjudged_samples",
            "Samples left unjudged: figures out of range, or a defect in detection "
            "(logged with the agent)",
            registry=registry,
        )
        self.infections = Counter(
            PREFIX + "infections",
            "Infections by the anomaly types they carry",
            ["anomaly_type"],
            registry=registry,
        )
        self.relearns = Counter(
            PREFIX + "relearns",
            "Baselines re-learned or adopted: deploy, false_positive, lasting_shift",
            ["reason"],
            registry=registry,
        )
        self.shared_shifts = Counter(
            PREFIX + "shared_shift_infections",
            "Infections of a vital most agents shifted at once: reported, not held",
            registry=registry,
        )
        self.quarantined = Gauge(
            PREFIX + "quarantined_agents", "Agents quarantined now", registry=registry
        )
        self.agents = Gauge(PREFIX + "agents", "Agents served", registry=registry)
        self.agents_evicted = Counter(
            PREFIX + "agents_evicted",
            "Agents forgotten to stay under the agent cap",
            registry=registry,
        )
        self.detection_seconds = Histogram(
            PREFIX + "detection_seconds",
            "From an export's arrival to its agent's quarantine",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )
        self.forward_queue = Gauge(
            PREFIX + "forward_queue_depth", "Requests waiting to be forwarded", registry=registry
        )
        self.forwarded = Counter(
            PREFIX + "forwarded_requests",
            "Requests forwarded upstream by outcome",
            ["outcome"],
            registry=registry,
        )
        self.actions = Counter(
            PREFIX + "actuator_commands",
            "Commands applied by actuators, by kind and outcome",
            ["command", "outcome"],
            registry=registry,
        )

    def items_of(self, signal: str) -> Counter:
        """The counter of a signal's items: points, spans or log records."""
        return self._items[signal]
