"""Actuators: how the sidecar contains and heals agents, behind one small interface."""

from .base import APPLY_ACTION, QUARANTINE, RELEASE, Actuator, Command, DryRun, Outcome
from .command import CommandActuator
from .readiness import ReadinessGate
from .runner import ActuatorRunner
from .webhook import WebhookActuator

__all__ = [
    "APPLY_ACTION",
    "QUARANTINE",
    "RELEASE",
    "Actuator",
    "ActuatorRunner",
    "Command",
    "CommandActuator",
    "DryRun",
    "Outcome",
    "ReadinessGate",
    "WebhookActuator",
]
