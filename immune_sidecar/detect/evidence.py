"""What each test reads from a sample: the statistic, how much evidence it holds, its anomaly.

Per-call means (latency, tokens) are judged on a log scale against
the agent's per-call level, their variance shrinking with the interval's
calls; latency is read as the calls' median from the histogram's buckets
where they are fine enough (a straggler barely moves it), else as the mean;
counts (tool calls, retries, errors) are judged as over-dispersed
Poisson counts against the agent's rate times the interval's exposure, and
the share of calls that answered, for a fall (a loop). The
p95 of a few calls is close to their maximum, so it is shown, never judged.
"""

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

from ..vitals import VitalSample
from .baseline import LevelBaseline, MeanBaseline, RateBaseline, ShareBaseline


class Observation(NamedTuple):
    """An interval's statistic and its evidence: a mean over n calls, or a count in n;
    ``mean_of_calls`` when it is the calls' mean duration where their median is meant (its
    tail is far heavier, as one straggler moves it fully: judged with ``mean_tail_dof``)."""

    value: float
    exposure: float
    mean_of_calls: bool = False


def _per_call(vital: str) -> Callable[[VitalSample], Observation | None]:
    """A per-call mean."""

    def read(sample: VitalSample) -> Observation | None:
        return _over_calls(sample, sample.values.get(vital))

    return read


def _latency(sample: VitalSample) -> Observation | None:
    """The calls' median, or their mean where the sample has no median."""
    median = sample.values.get("latency_median")
    if median is not None:
        return _over_calls(sample, median)
    return _over_calls(sample, sample.values.get("latency"), sample.latency_is_mean)


def _over_calls(sample: VitalSample, value, mean_of_calls=False) -> Observation | None:
    """``value`` per call over the sample's calls (none without a positive value and calls)."""
    if value is None or value <= 0 or sample.operations <= 0:
        return None
    return Observation(value, sample.operations, mean_of_calls)


def _count_per_call(vital: str) -> Callable[[VitalSample], Observation | None]:
    def read(sample: VitalSample) -> Observation | None:
        value = sample.values.get(vital)
        if value is None:
            return None
        calls = sample.operations if sample.operations > 0 else 1.0
        return Observation(value * calls, calls)

    return read


def _endings(sample: VitalSample) -> Observation | None:
    """The interval's finished invocations, or (from spans' finish reasons) its calls that
    ended in an answer, against its LLM calls: a loop's calls never end. Without such a
    measure, no test: the calls of an export alone rise and fall with traffic."""
    calls, ended = sample.values.get("llm_calls"), sample.values.get("invocations")
    return Observation(ended, calls) if calls and ended is not None else None


def _errors(sample: VitalSample) -> Observation | None:
    share = sample.values.get("error_rate")
    if share is None or sample.attempts <= 0:
        return None
    return Observation(share * sample.attempts, sample.attempts)


@dataclasses.dataclass(frozen=True)
class VitalTest:
    """One vital's test: what it reads, the baseline kind, the anomaly it names, and
    whether a deploy re-learns it (how the agent works; not how often its calls fail)."""

    vital: str
    anomaly: str
    read: Callable[[VitalSample], Observation | None]
    baseline: type[LevelBaseline] | type[RateBaseline]
    relearned: bool = True


TESTS: tuple[VitalTest, ...] = (
    VitalTest("latency", "latency_spike", _latency, LevelBaseline),
    VitalTest("input_tokens", "input_token_spike", _per_call("input_tokens"), MeanBaseline),
    VitalTest("output_tokens", "output_token_spike", _per_call("output_tokens"), MeanBaseline),
    VitalTest("total_tokens", "token_spike", _per_call("total_tokens"), MeanBaseline),
    VitalTest("tool_calls", "tool_explosion", _count_per_call("tool_calls"), RateBaseline),
    # A new version whose calls fail or are retried more often is a bad deploy, not a new
    # normal: these keep their baselines through a deploy.
    VitalTest("retries", "high_retry_rate", _count_per_call("retries"), RateBaseline, False),
    VitalTest("error_rate", "error_rate_spike", _errors, RateBaseline, False),
    # Judged when it falls: calls per answer (or per invocation) rose.
    VitalTest("answer_share", "call_rate_spike", _endings, ShareBaseline),
    VitalTest(
        "time_to_first_token", "latency_spike", _per_call("time_to_first_token"), MeanBaseline
    ),
)
PRICE = "price"  # told by the models in use, not a test of its own (``ModelBaseline``)
PROMPT = "prompt_hash"  # told by the hashes seen (``PromptBaseline``)
VITAL_ANOMALY = {
    **{t.vital: t.anomaly for t in TESTS},
    PRICE: "cost_spike",
    PROMPT: "prompt_change",
}
# The budget's even shares: one per test, and one for the models in use (a dear model
# a router sends few calls to can still be seen first once they are learned).
SHARES = len(TESTS) + 1
TEST_OF = {t.vital: t for t in TESTS}
# Vitals one cause moves together: a burst of one is a burst of its kin too.
_KIN = (
    frozenset({"input_tokens", "output_tokens", "total_tokens"}),
    frozenset({"latency", "time_to_first_token"}),
    frozenset({"error_rate", "retries"}),
)
_KIN_OF = {vital: kin for kin in _KIN for vital in kin}


def kin(vital: str) -> frozenset[str]:
    """The vitals one cause moves together with ``vital`` (itself included)."""
    return _KIN_OF.get(vital, frozenset({vital}))
