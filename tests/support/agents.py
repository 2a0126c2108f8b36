"""A test agent: the demo's emitter (official OpenTelemetry SDK, a real OTLP exporter)
pointed at a sidecar port; an export that fails fails the test."""

from immune_demo.emitter import Emitter, Profile, make_exporter
from immune_sidecar.detect.baseline import BURSTS_SHOWN

# Healthy intervals after which a fault is caught at once: a younger baseline's first
# excursion waits up to two intervals (they may be bursts it has not seen yet).
SETTLED = BURSTS_SHOWN

__all__ = ["Profile", "SimAgent", "make_exporter"]


class SimAgent(Emitter):
    """One agent with a MeterProvider of its own, exporting to ``port`` over ``transport``."""

    def __init__(self, name: str, transport: str, port: int, seed: int = 1, exporter=None):
        super().__init__(name, exporter or make_exporter(transport, port), seed)

    def flush(self) -> bool:
        """Export what was recorded; the export must succeed."""
        assert super().flush(), f"{self.name}: the OTLP export failed"
        return True
