"""Evidence as z-scores: how far out an interval's figure lies under the healthy model.

Every test turns its p-value into the normal quantile z = Φ⁻¹(1 − p), so one
threshold and one sequential test serve Gaussian and count statistics alike. Tests look
at the upper tail, but for a share that falls (answers per call): its lower tail.
"""

import math
from statistics import NormalDist

_NORMAL = NormalDist()
MAX_Z = 37.5  # Φ⁻¹(1 − 1e-300): beyond this a float p-value is zero
_SERIES_TERMS = 400


def z_of_p(p: float) -> float:
    """The z-score whose upper tail is ``p``."""
    if p <= 1e-300:
        return MAX_Z
    if p >= 1.0:
        return -MAX_Z
    return -_NORMAL.inv_cdf(p)


def poisson_z(k: float, mean: float) -> float:
    """z of seeing ``k`` or more events where ``mean`` were expected (Poisson).

    Exact (the regularised incomplete gamma) in the upper tail, the
    Wilson–Hilferty approximation elsewhere; ``k`` may be fractional after an
    over-dispersion rescale.
    """
    mean = max(mean, 1e-12)
    if k <= 0:
        return z_of_p(1.0 - 0.5 * math.exp(-mean))
    if k > mean:
        return z_of_p(_lower_gamma(k, mean))
    return 3.0 * math.sqrt(k) * (1.0 - 1.0 / (9.0 * k) - (mean / k) ** (1.0 / 3.0))


def _lower_gamma(a: float, x: float) -> float:
    """P(a, x), the regularised lower incomplete gamma, by its series (x < a)."""
    log_lead = a * math.log(x) - x - math.lgamma(a + 1.0)
    term = total = 1.0
    for n in range(1, _SERIES_TERMS):
        term *= x / (a + n)
        total += term
        if term < 1e-12 * total:
            break
    return math.exp(log_lead + math.log(total))


def poisson_low_z(k: float, mean: float) -> float:
    """z of seeing ``k`` or fewer events where ``mean`` were expected (Poisson): the upper
    tail's Wilson–Hilferty form at k + 1, mirrored (a little short of the exact z far out,
    so on the quiet side)."""
    k1, mean = max(k, 0.0) + 1.0, max(mean, 1e-12)
    return -3.0 * math.sqrt(k1) * (1.0 - 1.0 / (9.0 * k1) - (mean / k1) ** (1.0 / 3.0))


def dispersed_poisson_z(k: float, mean: float, variance: float) -> float:
    """``poisson_z`` for a count whose variance exceeds its mean (quasi-Poisson rescale)."""
    dispersion = max(1.0, variance / max(mean, 1e-12))
    return poisson_z(k / dispersion, mean / dispersion)


def dispersed_poisson_low_z(k: float, mean: float, variance: float) -> float:
    """``poisson_low_z`` for a count whose variance exceeds its mean."""
    dispersion = max(1.0, variance / max(mean, 1e-12))
    return poisson_low_z(k / dispersion, mean / dispersion)


def student_z(t: float, dof: float) -> float:
    """The normal z with the tail of Student's t at ``t`` with ``dof`` degrees of freedom.

    A spread estimated from few samples is itself uncertain; judging against it
    as if it were known would alarm far more often than designed. (Wallace's
    approximation: z ≈ (8ν+1)/(8ν+3) · √(ν·ln(1 + t²/ν)).)"""
    if dof <= 0:
        return t
    z = (8 * dof + 1) / (8 * dof + 3) * math.sqrt(dof * math.log1p(t * t / dof))
    return math.copysign(z, t)


def poisson_quantile(mean: float, z: float) -> float:
    """About the smallest count whose upper tail under Poisson(``mean``) is that of ``z``.

    The Cornish–Fisher form ⌈m + z√m + (z² − 1)/6⌉: within a count of the exact quantile,
    and cheap enough for every sample (it clips what a baseline learns)."""
    return float(math.ceil(mean + z * math.sqrt(mean) + (z * z - 1.0) / 6.0))


def poisson_low_quantile(mean: float, z: float) -> float:
    """About the largest count whose lower tail under Poisson(``mean``) is that of ``z``
    (the same Cornish–Fisher form, between 0 and the mean: near a mean of 0 the form's
    constant alone would say 1)."""
    estimate = mean - z * math.sqrt(mean) + (z * z - 1.0) / 6.0
    return float(max(0, math.floor(min(estimate, mean))))
