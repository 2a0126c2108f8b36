"""Which agent a data point belongs to, and the labels operators see."""

from typing import Any, NamedTuple

# Which agent a point or span belongs to: the first of these keys with a value, each looked
# up on the point (or span) and then on its resource. The resource comes first: one process
# is one agent, whatever names its points carry (they are labels); a process that runs
# several logical agents puts gen_ai.agent.name first (the ``identity`` setting).
DEFAULT_IDENTITY = ("service.instance.id", "k8s.pod.name", "service.name")
MODEL_KEYS = ("gen_ai.response.model", "gen_ai.request.model")
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system")
TOOL_KEY = "gen_ai.tool.name"
MCP_SERVER_KEY = "server.address"
AGENT_NAME_KEYS = ("gen_ai.agent.name", "service.name")
# Resource attributes that say which version of the agent is deployed.
VERSION_KEYS = ("service.version", "gen_ai.agent.version")


class PointLabels(NamedTuple):
    """Operator-facing labels read off one data point."""

    model: str
    provider: str
    tool: str
    mcp_server: str


def resource_agent_id(
    resource: dict[str, Any], keys: tuple[str, ...] = DEFAULT_IDENTITY
) -> str | None:
    """The agent id a resource alone names, or None when it names none."""
    return first(resource, keys)


def agent_id(
    point: dict[str, Any], resource: dict[str, Any], keys: tuple[str, ...] = DEFAULT_IDENTITY
) -> str | None:
    """The first of ``keys`` with a value, on the point and then on its resource."""
    for key in keys:
        value = point.get(key)
        if value in (None, ""):
            value = resource.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def agent_name(point: dict[str, Any], resource: dict[str, Any]) -> str:
    """A human name for the agent: its GenAI name, else the service name."""
    return first(point, AGENT_NAME_KEYS) or first(resource, AGENT_NAME_KEYS) or ""


def point_labels(point: dict[str, Any], metric_name: str) -> PointLabels:
    """Model, provider, tool and MCP server named on one point."""
    mcp = str(point.get(MCP_SERVER_KEY, "")) if metric_name.startswith("mcp.") else ""
    return PointLabels(
        model=first(point, MODEL_KEYS) or "",
        provider=first(point, PROVIDER_KEYS) or "",
        tool=str(point.get(TOOL_KEY, "")),
        mcp_server=mcp,
    )


def first(attrs: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` with a value in ``attrs``, as text."""
    for key in keys:
        value = attrs.get(key)
        if value not in (None, ""):
            return str(value)
    return None
