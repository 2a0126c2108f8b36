"""The detector's settings: its false-alarm budget, how baselines learn, what marks a deploy."""

import dataclasses
from typing import ClassVar

from immune_common.config import ConfigError, Range, check_ranges


@dataclasses.dataclass(frozen=True)
class BaselineSettings:
    """How baselines learn and how much false alarming the detector may cost."""

    # The designed false-quarantine rate of a healthy agent, split across the tests.
    false_alarms_per_1000_hours: float = 0.2
    min_samples: int = 10
    # Lasting shifts are judged once a baseline has seen this many samples: a young baseline's
    # level is still uncertain, and small steady differences from it are what a CUSUM adds up.
    lasting_after: int = 30
    # How fast a baseline's level follows the vital, and (slower) how fast its spread does:
    # rare bursts belong to an agent's noise and must stay in memory between them.
    alpha: float = 0.015
    spread_alpha: float = 0.01
    # Counts learn their rate slower still: a rare event moves a small rate a long way.
    rate_alpha: float = 0.0025
    # Smallest spread, on the log scale, of a per-call mean: a flat vital may still move this much.
    level_floor: float = 0.05
    # Smallest spread of a count's rate between intervals (over-dispersion), as a share.
    count_floor: float = 0.3
    # CUSUM slack in z (shifts of about twice this are what it is tuned to catch): per-call
    # levels drift with load and time of day, so they take more; counts are skewed (a 3σ
    # rise of a count is a z of about 2), so they take less.
    cusum_slack: float = 1.25
    count_cusum_slack: float = 0.75
    # The slack of a level whose healthy z-scores are seen to be independent (no wander for
    # a small slack to add up; see ``Persistence.calm``).
    calm_slack: float = 1.0
    # A count of under RELATIVE_FROM events an interval adds likelihood ratios instead (a
    # z-score of a count of one or two says little), tuned to a rise of this many standard
    # deviations of the interval's count.
    count_shift: float = 1.5
    # Agents' noise has heavier tails than a normal law (stragglers, cache misses, bursts):
    # z-scores are read as Student's t with this many degrees of freedom.
    tail_dof: float = 30.0
    # A latency that is the calls' mean (their buckets too coarse for a median) has a far
    # heavier tail still: one straggler five times slower in 18 calls is a z of 4 or more.
    mean_tail_dof: float = 10.0
    # A model switch is a cost spike when the price per token rises by this factor at once.
    price_jump: float = 1.5
    # A prompt hash never seen while healthy counts as this many z (for severity).
    prompt_change_sigma: float = 9.0
    # An agent whose healthy samples bring a hash never seen more often than this share
    # has a prompt that changes from call to call (content put into a captured system
    # prompt): a new hash says nothing of it (1: never so).
    varying_prompt_share: float = 0.5
    # Resource attributes whose change, with a new prompt hash, marks a deploy (re-learn).
    deploy_keys: tuple[str, ...] = ("service.version", "gen_ai.agent.version")
    # Standalone: the ejection in a row, for the same lone anomaly, that adopts its level
    # instead (each within the window of the one before; 0: never).
    relearn_after_ejections: int = 3
    relearn_window_seconds: float = 1800.0
    # The share of a sidecar's agents that must shift a vital at once for it to be one
    # outside cause, reported and not held (0: never; a sidecar serving one agent never is).
    shared_shift_share: float = 0.5
    # Vitals judged only when lasting; vitals not judged at all.
    lasting_only: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    # Fixed thresholds instead of the budget's (0: from the budget).
    sigma_threshold: float = 0.0
    cusum_limit: float = 0.0

    RANGES: ClassVar[dict[str, Range]] = {
        "false_alarms_per_1000_hours": (1e-6, 1e6),
        "min_samples": (2, 100_000),
        "lasting_after": (2, 100_000),
        "alpha": (1e-6, 0.5),
        "spread_alpha": (1e-6, 0.5),
        "rate_alpha": (1e-6, 0.5),
        "level_floor": (0.0, 10.0),
        "count_floor": (0.0, 100.0),
        "cusum_slack": (0.0, 100.0),
        "count_cusum_slack": (0.0, 100.0),
        "calm_slack": (0.0, 100.0),
        "count_shift": (0.1, 100.0),
        "tail_dof": (1.0, 1e6),
        "mean_tail_dof": (1.0, 1e6),
        "price_jump": (1.01, 1000.0),
        "prompt_change_sigma": (0.1, 1000.0),
        "varying_prompt_share": (0.0, 1.0),
        "relearn_after_ejections": (0, 1000),
        "relearn_window_seconds": (1.0, 31_536_000.0),
        "shared_shift_share": (0.0, 1.0),
        "sigma_threshold": (0.0, 1000.0),  # 0: from the budget; else at least 1
        "cusum_limit": (0.0, 1e6),
    }

    def __post_init__(self) -> None:
        check_ranges(self, "detection.")
        if 0 < self.sigma_threshold < 1:
            raise ConfigError("detection.sigma_threshold: 0 (from the budget) or at least 1")
