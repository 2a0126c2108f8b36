"""The egress gate's configuration: its listener, routes, keys and the limits of each action."""

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from immune_common.config import ConfigError, Range, check_ranges, split_address

OPENAI, ANTHROPIC, MCP = "openai", "anthropic", "mcp"
KINDS = (OPENAI, ANTHROPIC, MCP)
DEFAULT_UPSTREAMS = {OPENAI: "https://api.openai.com", ANTHROPIC: "https://api.anthropic.com"}


@dataclasses.dataclass(frozen=True)
class RouteConfig:
    """One upstream the gate forwards to.

    ``openai`` serves ``{prefix}/v1/chat/completions`` and ``{prefix}/v1/responses``,
    ``anthropic`` serves ``{prefix}/v1/messages``; the path after the prefix is appended
    to ``upstream`` (default: the provider's API). ``mcp`` serves ``/mcp/{name}`` and
    forwards to ``upstream``, the MCP server's streamable HTTP endpoint. The key comes
    from the sidecar's environment (``api_key_env``) or a file (``api_key_file``, a
    mounted Secret); the agent never holds it.
    """

    kind: str = OPENAI
    upstream: str = ""
    name: str = ""
    prefix: str = ""
    api_key_env: str = ""
    api_key_file: str = ""

    @property
    def label(self) -> str:
        """The route's name in metrics and messages."""
        return self.name or self.kind

    @property
    def target(self) -> str:
        """The upstream URL, with the provider's default filled in."""
        return (self.upstream or DEFAULT_UPSTREAMS.get(self.kind, "")).rstrip("/")


@dataclasses.dataclass(frozen=True)
class RevokeToolsLimits:
    """What ``revoke_tools`` takes away: the named tools, or every tool when none is named."""

    tools: tuple[str, ...] = ()

    def revoked(self, tool: str) -> bool:
        """Whether ``tool`` is taken away."""
        return not self.tools or tool in self.tools


@dataclasses.dataclass(frozen=True)
class AutonomyLimits:
    """What ``reduce_autonomy`` allows: output tokens per call, LLM calls per minute and
    tool rounds per conversation (after which tools are stripped); 0 leaves one unlimited."""

    max_output_tokens: int = 1024
    requests_per_minute: float = 20.0
    max_tool_rounds: int = 3

    RANGES: ClassVar[dict[str, Range]] = {
        "max_output_tokens": (0, 10_000_000),
        "requests_per_minute": (0.0, 1e6),
        "max_tool_rounds": (0, 10_000),
    }

    def __post_init__(self) -> None:
        check_ranges(self, "gate.reduce_autonomy.")


@dataclasses.dataclass(frozen=True)
class GateSettings:
    """The egress gate: off unless ``listen`` is set."""

    listen: str = ""
    routes: tuple[RouteConfig, ...] = ()
    # Whose calls these are: the agent's id as its OTLP resource names it; empty: the
    # sidecar id (the pod's name in Kubernetes, which deploy/ puts in k8s.pod.name).
    agent: str = ""
    # Trust an ``x-immune-agent`` header naming the agent (a process running several).
    agent_header: bool = False
    max_body_bytes: int = 16 * 1024 * 1024
    connect_timeout_seconds: float = 10.0
    # Longest silence from an upstream, before its answer and between stream chunks.
    read_timeout_seconds: float = 300.0
    # The retry hint sent when an upstream is down or silent.
    retry_after_seconds: float = 2.0
    # How long a revoke_tools or reduce_autonomy applied by the gate lasts.
    restriction_seconds: float = 3600.0
    revoke_tools: RevokeToolsLimits = dataclasses.field(default_factory=RevokeToolsLimits)
    reduce_autonomy: AutonomyLimits = dataclasses.field(default_factory=AutonomyLimits)

    RANGES: ClassVar[dict[str, Range]] = {
        "max_body_bytes": (1024, 1 << 30),
        "connect_timeout_seconds": (0.01, 3600.0),
        "read_timeout_seconds": (0.01, 86_400.0),
        "retry_after_seconds": (0.0, 60.0),
        "restriction_seconds": (1.0, 31_536_000.0),
    }

    def __post_init__(self) -> None:
        check_ranges(self, "gate.")
        if self.listen:
            split_address(self.listen, "gate.listen")
        elif self.routes:
            raise ConfigError("gate.routes: set gate.listen (HOST:PORT) for the gate to serve")
        paths: dict[str, str] = {}
        for i, route in enumerate(self.routes):
            key = f"gate.routes[{i}]"
            check_route(route, key)
            for path in served_paths(route):
                if path in paths:
                    raise ConfigError(f"{key}: {path} is already served by {paths[path]}")
                paths[path] = key

    @property
    def enabled(self) -> bool:
        """Whether the gate serves."""
        return bool(self.listen)


def served_paths(route: RouteConfig) -> tuple[str, ...]:
    """The listener paths a route answers."""
    if route.kind == MCP:
        return (f"/mcp/{route.name}",)
    prefix = route.prefix.rstrip("/")
    if route.kind == OPENAI:
        return (prefix + "/v1/chat/completions", prefix + "/v1/responses")
    return (prefix + "/v1/messages",)


def check_route(route: RouteConfig, key: str) -> None:
    """Raise ConfigError naming what is wrong with one route."""
    if route.kind not in KINDS:
        raise ConfigError(f"{key}.kind: {route.kind!r} is not one of {', '.join(KINDS)}")
    if route.kind == MCP and not (route.name and route.upstream):
        raise ConfigError(f"{key}: an mcp route needs a name (served at /mcp/NAME) and upstream")
    if route.name and not route.name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{key}.name: letters, digits, - and _ only, got {route.name!r}")
    if route.prefix and not route.prefix.startswith("/"):
        raise ConfigError(f"{key}.prefix: must start with /, got {route.prefix!r}")
    if route.api_key_env and route.api_key_file:
        raise ConfigError(f"{key}: api_key_env or api_key_file, not both")
    check_upstream(route.target, key + ".upstream")


def check_upstream(url: str, key: str) -> None:
    """An upstream is https, or plain http to this host: keys never cross a network in clear."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and _loopback(parts.hostname or ""):
        return
    raise ConfigError(
        f"{key}: {url[:200]!r} is neither https nor http to a loopback address; the gate "
        "sends the provider key there, so it must not cross a network in clear"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def route_key(route: RouteConfig, environ: Mapping[str, str] | None = None) -> str:
    """The route's upstream key ('' when it has none); ConfigError when it cannot be read."""
    environ = os.environ if environ is None else environ
    if route.api_key_env:
        key = environ.get(route.api_key_env, "").strip()
        if not key:
            raise ConfigError(f"gate route {route.label}: ${route.api_key_env} is not set")
        return key
    if route.api_key_file:
        try:
            return Path(route.api_key_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"gate route {route.label}: cannot read {route.api_key_file}: {exc.strerror}"
            ) from None
    return ""
