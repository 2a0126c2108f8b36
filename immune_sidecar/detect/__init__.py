"""Detection: per-agent baselines, anomalies, infections and their severity."""

from .baseline import Baseline, BaselineSettings, PromptBaseline
from .detector import VITAL_ANOMALY, Detector
from .infection import ANOMALY_TYPES, Anomaly, Infection
from .severity import severity

__all__ = [
    "ANOMALY_TYPES",
    "VITAL_ANOMALY",
    "Anomaly",
    "Baseline",
    "BaselineSettings",
    "Detector",
    "Infection",
    "PromptBaseline",
    "severity",
]
