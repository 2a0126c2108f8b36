"""Which OTLP metrics feed which vitals: the default mapping and YAML overrides.

GenAI metric names are still in development and have been renamed before, so
old and new names are mapped side by side. A rule matches a metric by name and,
optionally, by conditions on point attributes; its role says how the points
contribute to the agent's vital sample.
"""

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from immune_common.config import ConfigError

ROLES = frozenset(
    {
        "operation",  # histogram of model/agent operations: count, latency, errors
        "tool_call",  # one point count per tool call (histogram count or counter)
        "tool_count",  # a sum of tool calls (histogram sum or counter)
        "tokens",  # token usage split by gen_ai.token.type
        "input_tokens",
        "output_tokens",
        "inference_calls",  # model calls per invocation: beyond one is a retry
        "retry",  # each counted point is a retry
        "cost",  # USD
        "first_token",  # time to the first token or chunk of a streamed call (s)
        "known",  # a metric understood and deliberately not a vital (never schema drift)
    }
)
OPS = frozenset({"eq", "ne", "gt", "present", "absent"})


class Condition(NamedTuple):
    """One test on a point attribute."""

    key: str
    op: str
    value: Any = None

    def holds(self, attrs: Mapping[str, Any]) -> bool:
        """Whether the point's attributes satisfy this condition."""
        present = self.key in attrs
        if self.op == "present":
            return present
        if self.op == "absent":
            return not present
        actual = attrs.get(self.key)
        if self.op == "eq":
            return present and str(actual) == str(self.value)
        if self.op == "ne":
            return str(actual) != str(self.value)
        return _number(actual) > float(self.value)


class MetricRule(NamedTuple):
    """A metric name, optional attribute conditions, and the role it plays."""

    metric: str
    role: str
    where: tuple[Condition, ...] = ()

    def matches(self, attrs: Mapping[str, Any]) -> bool:
        """Whether a point with these attributes falls under this rule."""
        return not self.where or all(c.holds(attrs) for c in self.where)


def _rule(metric: str, role: str, *where: Condition) -> MetricRule:
    return MetricRule(metric, role, tuple(where))


_OP = "gen_ai.operation.name"
DEFAULT_RULES: tuple[MetricRule, ...] = (
    _rule("gen_ai.client.operation.duration", "operation", Condition(_OP, "ne", "execute_tool")),
    _rule("gen_ai.client.operation.duration", "tool_call", Condition(_OP, "eq", "execute_tool")),
    _rule("gen_ai.invoke_agent.duration", "operation"),
    _rule("gen_ai.agent.operation.duration", "operation"),
    _rule("gen_ai.execute_tool.duration", "tool_call"),
    _rule("gen_ai.invoke_agent.tool_calls", "tool_count"),
    _rule(
        "mcp.client.operation.duration",
        "tool_call",
        Condition("mcp.method.name", "eq", "tools/call"),
    ),
    _rule("gen_ai.client.token.usage", "tokens"),
    _rule("gen_ai.client.inference.usage.input_tokens", "input_tokens"),
    _rule("gen_ai.client.inference.usage.output_tokens", "output_tokens"),
    _rule("gen_ai.usage.input_tokens", "input_tokens"),
    _rule("gen_ai.usage.output_tokens", "output_tokens"),
    _rule("gen_ai.invoke_agent.inference_calls", "inference_calls"),
    _rule("http.client.request.duration", "retry", Condition("http.request.resend_count", "gt", 0)),
    # The old name (milliseconds), which OpenLIT still records retries under.
    _rule("http.client.duration", "retry", Condition("http.request.resend_count", "gt", 0)),
    _rule("gen_ai.usage.cost", "cost"),
    _rule("gen_ai.server.time_to_first_token", "first_token"),
    _rule("gen_ai.client.operation.time_to_first_chunk", "first_token"),
    _rule("gen_ai.client.operation.time_per_output_chunk", "known"),
    _rule("gen_ai.server.time_per_output_token", "known"),
    _rule("gen_ai.server.request.duration", "known"),
    _rule("gen_ai.client.generation.choices", "known"),
)
# Metric names that look like an LLM's: one that matches no rule is schema drift.
DRIFT_PREFIXES = ("gen_ai.", "mcp.", "llm.", "openai.", "anthropic.", "openlit.", "traceloop.")


class RuleBook:
    """Rules indexed by metric name, for one lookup per metric."""

    def __init__(self, rules: Iterable[MetricRule]) -> None:
        self._by_metric: dict[str, tuple[MetricRule, ...]] = {}
        for rule in rules:
            self._by_metric[rule.metric] = (*self._by_metric.get(rule.metric, ()), rule)

    def for_metric(self, name: str) -> tuple[MetricRule, ...]:
        """The rules of a metric; empty when it feeds no vital."""
        return self._by_metric.get(name, ())

    @classmethod
    def with_overrides(cls, overrides: Iterable[MetricRule]) -> "RuleBook":
        """Defaults, with every metric named in ``overrides`` replaced by them."""
        overrides = list(overrides)
        replaced = {r.metric for r in overrides}
        return cls([r for r in DEFAULT_RULES if r.metric not in replaced] + overrides)


def parse_rules(entries: Any, key: str = "mapping") -> list[MetricRule]:
    """Rules from a YAML list of ``{name, role, where}`` entries."""
    if not isinstance(entries, list):
        raise ConfigError(f"{key}: expected a list of metric rules")
    return [_parse_rule(e, f"{key}[{i}]") for i, e in enumerate(entries)]


def _parse_rule(entry: Any, key: str) -> MetricRule:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise ConfigError(f"{key}: each rule needs a metric name, e.g. {{name: x, role: retry}}")
    unknown = set(entry) - {"name", "role", "where"}
    if unknown:
        raise ConfigError(f"{key}: unknown key {sorted(unknown)[0]} (known: name, role, where)")
    role = entry.get("role")
    if role not in ROLES:
        raise ConfigError(f"{key}.role: {role!r} is not one of {', '.join(sorted(ROLES))}")
    where = entry.get("where") or {}
    if not isinstance(where, dict):
        raise ConfigError(f"{key}.where: expected a mapping of attribute conditions")
    conditions = tuple(_condition(k, v, f"{key}.where.{k}") for k, v in where.items())
    return MetricRule(entry["name"], role, conditions)


def _condition(attr: str, spec: Any, key: str) -> Condition:
    if not isinstance(spec, dict):
        return Condition(attr, "eq", spec)
    if len(spec) != 1 or next(iter(spec)) not in OPS:
        raise ConfigError(f"{key}: expected a value or one of {{{', '.join(sorted(OPS))}: ...}}")
    op, value = next(iter(spec.items()))
    if op == "gt":
        _require_number(value, key)
    return Condition(attr, op, value)


def _require_number(value: Any, key: str) -> None:
    try:
        float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: gt needs a number, got {value!r}") from None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("-inf")
