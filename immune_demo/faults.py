"""The faults chaos injects: how each changes an agent's work, what Immune should see, and
what cures it.

A fault's cure is hidden from control: only trying actions reveals it, which is
what makes the ladder and immune memory matter. Some faults are cured by the
first action of their diagnosis's default ladder, some only by a later one.
"""

import dataclasses
from collections.abc import Callable

from .emitter import Profile


@dataclasses.dataclass(frozen=True)
class Fault:
    """One kind of misbehaviour, as chaos injects it."""

    name: str
    change: Callable[[Profile], Profile]
    # The anomaly types the sidecar should report for it (at least one of them).
    expected: frozenset[str]
    # The healing actions that end it.
    cures: frozenset[str]
    what: str


def _scaled(**factors: float) -> Callable[[Profile], Profile]:
    def change(p: Profile) -> Profile:
        return dataclasses.replace(p, **{k: getattr(p, k) * f for k, f in factors.items()})

    return change


def _set(**values) -> Callable[[Profile], Profile]:
    return lambda p: dataclasses.replace(p, **values)


def _new_prompt(p: Profile) -> Profile:
    return dataclasses.replace(p, prompt_hash=p.prompt_hash + "-edited")


def _injected(p: Profile) -> Profile:
    return dataclasses.replace(
        p, prompt_hash=p.prompt_hash + "-injected", tool_calls=p.tool_calls * 5
    )


FAULTS = (
    Fault(
        "token_explosion",
        _scaled(input_tokens=4.0),
        frozenset({"input_token_spike", "token_spike"}),
        frozenset({"reset_memory", "reset_agent"}),
        "context grows without bound; clearing memory ends it",
    ),
    Fault(
        "tool_loop",
        _scaled(tool_calls=6.0),
        frozenset({"tool_explosion"}),
        frozenset({"reduce_autonomy"}),
        "the planner loops on tool calls; revoking tools does not stop it, less autonomy does",
    ),
    Fault(
        "latency_storm",
        _scaled(latency=2.2),
        frozenset({"latency_spike"}),
        frozenset({"reset_agent"}),
        "a wedged connection pool; only a restart clears it",
    ),
    Fault(
        "retry_storm",
        _set(retries=1.0),
        frozenset({"high_retry_rate"}),
        frozenset({"reduce_autonomy", "reset_agent"}),
        "every call is retried once",
    ),
    Fault(
        "cost_spike",
        _set(model="claude-opus-4"),
        frozenset({"cost_spike"}),
        frozenset({"reduce_autonomy", "rollback_prompt"}),
        "a config change moved the agent to the most expensive model",
    ),
    Fault(
        "prompt_drift",
        _new_prompt,
        frozenset({"prompt_change"}),
        frozenset({"rollback_prompt"}),
        "an unreviewed prompt edit; resetting memory does not undo it",
    ),
    Fault(
        "prompt_injection",
        _injected,
        frozenset({"prompt_change", "tool_explosion"}),
        frozenset({"rollback_prompt"}),
        "injected instructions in the prompt drive extra tool calls",
    ),
    Fault(
        "error_storm",
        _set(error_share=0.8),
        frozenset({"error_rate_spike"}),
        frozenset({"reset_agent"}),
        "most model calls time out (and so call no tools) until the agent restarts",
    ),
)
BY_NAME = {f.name: f for f in FAULTS}
