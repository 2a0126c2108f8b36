"""Healing ladders: the ordered actions tried for each diagnosis."""

import dataclasses
from collections.abc import Iterable, Mapping

from immune_common.vocab import ACTIONS, DIAGNOSES

from .errors import InvalidArgument

DEFAULT_LADDERS: Mapping[str, tuple[str, ...]] = {
    "prompt_drift": ("reset_memory", "rollback_prompt", "reduce_autonomy", "reset_agent"),
    "prompt_injection": ("revoke_tools", "reset_memory", "rollback_prompt", "reset_agent"),
    "infinite_loop": ("revoke_tools", "reduce_autonomy", "reset_memory", "reset_agent"),
    "tool_instability": ("reduce_autonomy", "rollback_prompt", "reset_agent"),
    "memory_corruption": ("reset_memory", "reset_agent"),
    "cost_overrun": ("reduce_autonomy", "rollback_prompt", "reset_memory", "reset_agent"),
    "external_cause": ("reduce_autonomy", "reset_agent"),
    "unknown": ("reset_memory", "reduce_autonomy", "reset_agent"),
}


@dataclasses.dataclass(frozen=True)
class Policy:
    """The ladder of one diagnosis and who set it last."""

    diagnosis: str
    actions: tuple[str, ...]
    update_actor: str = "default"
    update_time: float = 0.0


def validate(diagnosis: str, actions: Iterable[str]) -> tuple[str, ...]:
    """Check a ladder; raises InvalidArgument naming the bad part."""
    if diagnosis not in DIAGNOSES:
        raise InvalidArgument(f"unknown diagnosis {diagnosis!r}; known: {', '.join(DIAGNOSES)}")
    ladder = tuple(actions)
    if not ladder:
        raise InvalidArgument(f"the ladder for {diagnosis} needs at least one action")
    for action in ladder:
        if action not in ACTIONS:
            raise InvalidArgument(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    if len(set(ladder)) != len(ladder):
        raise InvalidArgument(f"the ladder for {diagnosis} names an action twice")
    return ladder


def defaults(overrides: Mapping[str, Iterable[str]]) -> dict[str, Policy]:
    """The default ladders with the configured ones laid over them (validated)."""
    ladders = {**DEFAULT_LADDERS, **{d: validate(d, a) for d, a in overrides.items()}}
    return {d: Policy(d, tuple(a)) for d, a in ladders.items()}
