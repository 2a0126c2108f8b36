"""The gate's route table: listener path → the upstream URL, its protocol and its key."""

import dataclasses
from collections.abc import Mapping

from .dialects import ChatCompletions, Dialect, Messages, Responses
from .settings import ANTHROPIC, MCP, GateSettings, RouteConfig, route_key, served_paths

_DIALECTS = {
    "/v1/chat/completions": ChatCompletions(),
    "/v1/responses": Responses(),
    "/v1/messages": Messages(),
}
# Never forwarded as received: per-connection headers, and what the gate sets itself.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length", "x-immune-agent"}
)  # fmt: skip
CREDENTIALS = frozenset({"authorization", "x-api-key", "api-key"})


@dataclasses.dataclass(frozen=True)
class Route:
    """One served path."""

    config: RouteConfig
    path: str
    url: str  # where its calls go
    dialect: Dialect | None  # None: MCP
    key_headers: Mapping[str, str]  # the custody key, as the upstream expects it

    @property
    def label(self) -> str:
        """The route's name in metrics and messages."""
        return self.config.label

    def upstream_headers(self, received: Mapping[str, str]) -> dict[str, str]:
        """The headers to send upstream: the agent's, less hop-by-hop ones, and with the
        gate's key in place of whatever credentials the agent sent."""
        drop = HOP_BY_HOP | CREDENTIALS if self.key_headers else HOP_BY_HOP
        headers = {k: v for k, v in received.items() if k.lower() not in drop}
        headers.update(self.key_headers)
        return headers


def build(settings: GateSettings, environ: Mapping[str, str] | None = None) -> dict[str, Route]:
    """Every served path's route; ConfigError when a key cannot be read."""
    table: dict[str, Route] = {}
    for config in settings.routes:
        key = route_key(config, environ)
        for path in served_paths(config):
            table[path] = _route(config, path, key)
    return table


def _route(config: RouteConfig, path: str, key: str) -> Route:
    if config.kind == MCP:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return Route(config, path, config.target, None, headers)
    endpoint = path[len(config.prefix.rstrip("/")) :]
    if config.kind == ANTHROPIC:
        headers = {"x-api-key": key} if key else {}
    else:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Route(config, path, config.target + endpoint, _DIALECTS[endpoint], headers)


def describe(table: Mapping[str, Route]) -> str:
    """The routes, for a 404 that tells the agent where to go."""
    if not table:
        return "no routes are configured (gate.routes)"
    return "; ".join(f"POST {path} → {r.label}" for path, r in sorted(table.items()))
