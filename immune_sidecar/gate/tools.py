"""What revoke_tools and reduce_autonomy change in an LLM request, for any provider."""

import dataclasses
from collections.abc import Callable
from typing import Any

from .settings import AutonomyLimits, RevokeToolsLimits


@dataclasses.dataclass(frozen=True)
class Rules:
    """What the gate enforces on one agent's calls now (None: not in force)."""

    revoke: RevokeToolsLimits | None = None
    autonomy: AutonomyLimits | None = None

    def __bool__(self) -> bool:
        return self.revoke is not None or self.autonomy is not None


NONE = Rules()


@dataclasses.dataclass(frozen=True)
class RequestShape:
    """Where a provider's request keeps its tools and output limit."""

    token_fields: tuple[str, ...]  # clamped where present; the first is set when none is
    auto_choice: Any  # the tool_choice that replaces one naming a stripped tool
    rounds: Callable[[dict], int]  # tool rounds the conversation has had


def tool_name(tool: Any) -> str:
    """A tool definition's name, in any provider's shape (a built-in tool: its type)."""
    if not isinstance(tool, dict):
        return ""
    for inner in (tool, tool.get("function"), tool.get("custom")):
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            return inner["name"]
    return str(tool.get("server_label") or tool.get("type") or "")


def apply(payload: dict, rules: Rules, shape: RequestShape) -> list[str]:
    """Enforce ``rules`` on a request in place; what changed, for the record."""
    changes: list[str] = []
    limits = rules.autonomy
    if limits and limits.max_tool_rounds and payload.get("tools"):
        rounds = shape.rounds(payload)
        if rounds >= limits.max_tool_rounds and _strip(payload, lambda _: True, shape):
            changes.append(f"tools stripped after {rounds} tool rounds")
    if rules.revoke and payload.get("tools"):
        changes += _strip(payload, rules.revoke.revoked, shape)
    if limits and limits.max_output_tokens:
        changes += _clamp(payload, shape.token_fields, limits.max_output_tokens)
    return changes


def _strip(payload: dict, revoked: Callable[[str], bool], shape: RequestShape) -> list[str]:
    tools = payload.get("tools")
    if not isinstance(tools, list):
        return []
    kept = [t for t in tools if not revoked(tool_name(t))]
    if len(kept) == len(tools):
        return []
    gone = [tool_name(t) for t in tools if revoked(tool_name(t))]
    if kept:
        payload["tools"] = kept
        choice = payload.get("tool_choice")
        if isinstance(choice, dict) and revoked(tool_name(choice)):
            payload["tool_choice"] = shape.auto_choice
    else:
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            payload.pop(key, None)
    return [f"stripped {', '.join(gone)}"]


def _clamp(payload: dict, fields: tuple[str, ...], cap: int) -> list[str]:
    present = [f for f in fields if f in payload]
    if not present:
        payload[fields[0]] = cap
        return [f"{fields[0]} set to {cap}"]
    changes = []
    for field in present:
        value = payload[field]
        if not isinstance(value, int) or isinstance(value, bool) or value > cap:
            payload[field] = cap
            changes.append(f"{field} {value} → {cap}")
    return changes
