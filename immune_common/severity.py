"""Severity 0–10 of an infection, from the same z-scores that raised it.

    evidence = Σ max(0, zᵢ)             over the infection's anomalies
    severity = 1 + 9 · (1 − exp(−evidence / (3θ)))     (0 when there is no anomaly)

θ is the sudden threshold the false-alarm budget sets (about 4.9 at 60 s
intervals). Any anomaly scores at least 1; severity grows with every z and
with the number of anomalies, and approaches 10. With θ = 4.9: a lasting
shift at 2.5 z → 2.4, one anomaly at the threshold → 3.6, at 10 z → 5.4, at
20 z → 7.7; a new prompt hash (9 z) → 5.1.

Control bounds what a sidecar reports with the same formula at a reference θ:
a reported severity below what its anomalies show is raised to it, so a
report cannot avoid a human's approval by understating itself.
"""

import math
from collections.abc import Iterable

REFERENCE_THRESHOLD = 5.0  # θ of a sidecar with default settings (60 s intervals), rounded up


def severity(sigmas: Iterable[float], threshold: float) -> float:
    """Severity 0–10, rounded to one decimal."""
    sigmas = list(sigmas)
    if not sigmas:
        return 0.0
    evidence = sum(max(0.0, s) for s in sigmas)
    return round(1.0 + 9.0 * (1.0 - math.exp(-evidence / (3.0 * threshold))), 1)


def at_least_shown(reported: float, sigmas: Iterable[float]) -> float:
    """A reported severity, raised to what its anomalies show at the reference θ."""
    finite = [s for s in sigmas if math.isfinite(s)]
    return max(reported, severity(finite, REFERENCE_THRESHOLD) if finite else 0.0)
