"""The fit of a variance of two terms, one of which grows as an interval holds fewer calls
(a level) or more events (a count)."""

from typing import Any

WELL_POSED = 0.05  # the two variance terms are told apart only past this correlation slack


class VarianceFit:
    """var = a·u + b·v with a, b ≥ 0, fitted to squared residuals (EW least squares).

    Residuals may be an excess over a known variance, and negative; the fit is never."""

    __slots__ = ("sums",)

    def __init__(self, sums: list[float] | None = None) -> None:
        self.sums = sums or [0.0] * 5  # Σuu, Σuv, Σvv, Σu·r², Σv·r²

    def add(self, u: float, v: float, squared: float, keep: float, weight: float = 1.0) -> None:
        """Take one squared residual in, after forgetting by ``keep``, at ``weight`` (for
        least squares weighted by the inverse of each residual's variance)."""
        sums = self.sums
        sums[0] = sums[0] * keep + weight * u * u
        sums[1] = sums[1] * keep + weight * u * v
        sums[2] = sums[2] * keep + weight * v * v
        sums[3] = sums[3] * keep + weight * u * squared
        sums[4] = sums[4] * keep + weight * v * squared

    def variance(
        self, u: float, v: float, prior: tuple[float, float, float] = (0, 0, 0), larger=True,
        bounded=False,
    ) -> float:  # fmt: skip
        """The fitted variance at (u, v); 0 before any residual.

        When the two terms cannot be told apart, ``larger`` takes the larger one-term fit
        (the safe side), else the first term alone. ``bounded``: where they can be and one
        comes out below 0, the least-squares fit with that one at 0 (else: as when they
        cannot). ``prior`` = (weight, u₀, v₀) adds that many residuals of zero at (u₀, v₀):
        a few rare events say little about a spread."""
        weight, u0, v0 = prior
        uu, uv, vv, uy, vy = self.sums
        uu, uv, vv = uu + weight * u0 * u0, uv + weight * u0 * v0, vv + weight * v0 * v0
        if uu <= 0 or vv <= 0:
            return 0.0
        det = uu * vv - uv * uv
        if det > WELL_POSED * uu * vv:
            a, b = (vv * uy - uv * vy) / det, (uu * vy - uv * uy) / det
            if a >= 0 and b >= 0:
                return a * u + b * v
            if bounded:  # the one-term fit that explains more (a term below 0 explains none)
                first, second = max(uy, 0.0) ** 2 / uu, max(vy, 0.0) ** 2 / vv
                return max(uy / uu * u if first >= second else vy / vv * v, 0.0)
        if not larger:
            return max(uy / uu * u, 0.0)
        return max(uy / uu * u, vy / vv * v, 0.0)


class CarriedFit:
    """The spread fit of the version before a deploy, and how many intervals' worth of its
    own spread between intervals the young baseline has seen since (``told``)."""

    __slots__ = ("fit", "told")

    def __init__(self, fit: VarianceFit, told: float = 0.0) -> None:
        self.fit, self.told = fit, told

    def to_json(self) -> dict[str, Any]:
        """Its part of the baseline's entry in the state file."""
        return {"before": self.fit.sums, "told": self.told}


def carried_of(data: dict[str, Any]) -> CarriedFit | None:
    """A baseline's carried fit restored from its state file entry (None where there was
    none; files that did not keep ``told`` counted every interval, as ``n``)."""
    sums = data.get("before")
    if not sums:
        return None
    return CarriedFit(VarianceFit(list(sums)), float(data.get("told", data["n"])))
