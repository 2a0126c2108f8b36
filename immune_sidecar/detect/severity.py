"""Severity 0–10 of an infection from its anomalies' deviations.

    excess   = Σ max(0, σᵢ − θ)          over the infection's anomalies
    severity = 1 + 9 · (1 − exp(−excess / (2θ)))     (0 when there is no anomaly)

θ is the detection threshold in σ. Any anomaly scores at least 1; severity
grows with every deviation and with the number of anomalies, and approaches
10. With θ = 4.5: one anomaly at 6σ → 2.4, at 10σ → 5.2, at 20σ → 8.3.
"""

import math
from collections.abc import Iterable


def severity(sigmas: Iterable[float], threshold: float) -> float:
    """Severity 0–10, rounded to one decimal."""
    sigmas = list(sigmas)
    if not sigmas:
        return 0.0
    excess = sum(max(0.0, s - threshold) for s in sigmas)
    return round(1.0 + 9.0 * (1.0 - math.exp(-excess / (2.0 * threshold))), 1)
