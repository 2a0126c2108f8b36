"""The egress gate: an agent's LLM and MCP calls pass through the sidecar, which holds
the provider keys, measures every call and enforces quarantine and healing on it."""

from .actuator import GateActuator
from .errors import GateError, Refusal
from .meter import GateMetrics, Meter
from .policy import Policy
from .routes import build as build_routes
from .server import Gate
from .settings import AutonomyLimits, GateSettings, RevokeToolsLimits, RouteConfig

__all__ = [
    "AutonomyLimits",
    "Gate",
    "GateActuator",
    "GateError",
    "GateMetrics",
    "GateSettings",
    "Meter",
    "Policy",
    "Refusal",
    "RevokeToolsLimits",
    "RouteConfig",
    "build_routes",
]
