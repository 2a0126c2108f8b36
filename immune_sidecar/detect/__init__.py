"""Detection: per-agent baselines, a false-alarm budget, anomalies, infections, severity."""

from immune_common.severity import severity

from .admit import UnreadableSample
from .baseline import LevelBaseline, RateBaseline
from .budget import Thresholds, thresholds
from .detector import Detector
from .evidence import TESTS, VITAL_ANOMALY
from .infection import Anomaly, Infection
from .prompts import PromptBaseline
from .settings import BaselineSettings

__all__ = [
    "TESTS",
    "VITAL_ANOMALY",
    "Anomaly",
    "BaselineSettings",
    "Detector",
    "Infection",
    "LevelBaseline",
    "PromptBaseline",
    "RateBaseline",
    "Thresholds",
    "UnreadableSample",
    "severity",
    "thresholds",
]
