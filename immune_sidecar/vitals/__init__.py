"""Vitals: OTLP data points mapped to one sample per agent and export interval."""

from .delta import DeltaTracker
from .mapper import Mapper, MapResult
from .prices import PriceTable
from .rules import MetricRule, RuleBook, parse_rules
from .sample import VITALS, Labels, VitalSample

__all__ = [
    "VITALS",
    "DeltaTracker",
    "Labels",
    "MapResult",
    "Mapper",
    "MetricRule",
    "PriceTable",
    "RuleBook",
    "VitalSample",
    "parse_rules",
]
