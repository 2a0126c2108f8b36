"""Streaming per-(agent, vital) baselines that the anomaly they look for cannot pull.

Learning: the first ``min_samples`` values are fitted robustly (median and
MAD), so a fault during learning does not become normal. After that, an
exponentially weighted mean and variance follow the vital; values past
``winsor_sigma`` are clipped before they update it, and anomalous samples are
not fed in at all (the detector skips them).

Persistence: a one-sided CUSUM adds up how far each sample lies beyond
``cusum_slack`` σ (each sample counting at most half of ``cusum_limit``), so a
shift too small to cross the threshold once is caught when it lasts, while a
lone straggler is not.
"""

import dataclasses
import statistics
from typing import Any

MAD_TO_SIGMA = 1.4826


@dataclasses.dataclass(frozen=True)
class BaselineSettings:
    """How baselines learn and how far is abnormal."""

    sigma_threshold: float = 4.5
    min_samples: int = 8
    alpha: float = 0.1
    winsor_sigma: float = 2.5
    relative_floor: float = 0.1
    # Smallest standard deviation per vital, so a flat vital can still move a little.
    absolute_floors: dict[str, float] = dataclasses.field(
        default_factory=lambda: {
            "latency": 0.05,
            "latency_p95": 0.05,
            "input_tokens": 20.0,
            "output_tokens": 20.0,
            "total_tokens": 30.0,
            "tool_calls": 0.25,
            "retries": 0.1,
            "error_rate": 0.05,
            "cost": 1e-5,
        }
    )
    # A prompt hash never seen while healthy counts as this many sigma.
    prompt_change_sigma: float = 9.0
    # CUSUM: σ beyond this add up (0 turns it off); an anomaly once the sum reaches the limit.
    # One sample adds at most half the limit, so it takes two in a row at the least.
    cusum_slack: float = 0.0
    cusum_limit: float = 8.0
    # Vitals too noisy sample by sample (a p95 of a few calls): anomalies only when lasting.
    lasting_only: tuple[str, ...] = ()


class Baseline:
    """What is normal for one vital of one agent."""

    __slots__ = ("excess", "mean", "n", "var", "warmup")

    def __init__(
        self,
        mean: float = 0.0,
        var: float = 0.0,
        n: int = 0,
        warmup: list | None = None,
        excess: float = 0.0,
    ):
        self.mean, self.var, self.n = mean, var, n
        self.warmup: list[float] = warmup if warmup is not None else []
        self.excess = excess  # the CUSUM sum, in σ

    def learned(self, s: BaselineSettings) -> bool:
        """Whether enough samples were seen for detection to run."""
        return self.n >= s.min_samples

    def stddev(self, vital: str, s: BaselineSettings) -> float:
        """The standard deviation, never below the vital's floors."""
        floor = max(s.relative_floor * abs(self.mean), s.absolute_floors.get(vital, 1e-9))
        return max(self.var**0.5, floor)

    def sigma(self, x: float, vital: str, s: BaselineSettings) -> float:
        """How many standard deviations ``x`` lies above the mean."""
        return (x - self.mean) / self.stddev(vital, s)

    def accumulate(self, sigma: float, s: BaselineSettings) -> bool:
        """Add a sample's σ to the CUSUM sum; whether it reached the limit."""
        if s.cusum_slack <= 0:
            return False
        step = min(sigma - s.cusum_slack, s.cusum_limit / 2)
        self.excess = max(0.0, self.excess + step)
        return self.excess >= s.cusum_limit

    def drifting(self, s: BaselineSettings) -> bool:
        """Whether the CUSUM sum is half way to the limit (too suspect to learn from).

        Not any sum above 0: leaving every somewhat high sample out would bias the
        baseline low, and the evaluation showed that doubles false alarms."""
        return s.cusum_slack > 0 and self.excess >= s.cusum_limit / 2

    def learn(self, x: float, vital: str, s: BaselineSettings) -> None:
        """Take a normal value in."""
        self.n += 1
        if self.n < s.min_samples:
            self.warmup.append(x)
        elif self.n == s.min_samples:
            self._fit([*self.warmup, x])
        else:
            self._follow(x, vital, s)

    def _fit(self, values: list[float]) -> None:
        self.mean = statistics.median(values)
        mad = statistics.median(abs(v - self.mean) for v in values)
        self.var = (MAD_TO_SIGMA * mad) ** 2 or statistics.pvariance(values)
        self.warmup = []

    def _follow(self, x: float, vital: str, s: BaselineSettings) -> None:
        limit = s.winsor_sigma * self.stddev(vital, s)
        delta = max(-limit, min(limit, x - self.mean))
        self.mean += s.alpha * delta
        self.var = (1 - s.alpha) * (self.var + s.alpha * delta * delta)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {
            "mean": self.mean,
            "var": self.var,
            "n": self.n,
            "warmup": self.warmup,
            "excess": self.excess,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Baseline":
        """Restore from ``to_json`` output."""
        return cls(
            float(data["mean"]),
            float(data["var"]),
            int(data["n"]),
            list(data["warmup"]),
            float(data.get("excess", 0.0)),  # absent in state written before CUSUM
        )


class PromptBaseline:
    """The prompt hashes an agent used while healthy."""

    MAX_KNOWN = 16

    def __init__(self, known: dict[str, int] | None = None, n: int = 0):
        self.known: dict[str, int] = known or {}
        self.n = n

    def usual(self) -> str:
        """The hash seen most often."""
        return max(self.known, key=self.known.__getitem__) if self.known else ""

    def is_new(self, prompt_hash: str, s: BaselineSettings) -> bool:
        """Whether a learned agent shows a hash it never used while healthy."""
        return bool(prompt_hash) and self.n >= s.min_samples and prompt_hash not in self.known

    def learn(self, prompt_hash: str) -> None:
        """Count a hash seen in a healthy sample."""
        if not prompt_hash:
            return
        self.n += 1
        self.known[prompt_hash] = self.known.get(prompt_hash, 0) + 1
        if len(self.known) > self.MAX_KNOWN:
            del self.known[min(self.known, key=self.known.__getitem__)]

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the state file."""
        return {"known": self.known, "n": self.n}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PromptBaseline":
        """Restore from ``to_json`` output."""
        return cls({str(k): int(v) for k, v in data["known"].items()}, int(data["n"]))
