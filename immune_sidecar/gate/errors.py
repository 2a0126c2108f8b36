"""Why the gate answers a call itself: classified once here, shaped per protocol by each
dialect, mapped to HTTP status and retry hints by the one table below."""

import enum
import math


class Refusal(enum.Enum):
    """Why the gate answered instead of the upstream."""

    QUARANTINED = "quarantined"
    RATE_LIMITED = "rate_limited"
    REVOKED_TOOL = "revoked_tool"
    MALFORMED = "malformed"
    TOO_LARGE = "too_large"
    NO_ROUTE = "no_route"
    UPSTREAM_DOWN = "upstream_down"
    UPSTREAM_TIMEOUT = "upstream_timeout"


# status, the provider error type, the error code
_SHAPES = {
    Refusal.QUARANTINED: (403, "permission_error", "agent_quarantined"),
    Refusal.RATE_LIMITED: (429, "rate_limit_error", "agent_rate_limited"),
    Refusal.REVOKED_TOOL: (403, "permission_error", "tool_revoked"),
    Refusal.MALFORMED: (400, "invalid_request_error", "invalid_request"),
    Refusal.TOO_LARGE: (413, "request_too_large", "request_too_large"),
    Refusal.NO_ROUTE: (404, "not_found_error", "unknown_route"),
    Refusal.UPSTREAM_DOWN: (502, "api_error", "upstream_unreachable"),
    Refusal.UPSTREAM_TIMEOUT: (504, "api_error", "upstream_timeout"),
}
# The refusals a client may retry: after its hint, a retry can succeed.
RETRYABLE = frozenset({Refusal.RATE_LIMITED, Refusal.UPSTREAM_DOWN, Refusal.UPSTREAM_TIMEOUT})
MAX_RETRY_AFTER = 60.0  # the SDKs honour a hint only up to a minute


class GateError(Exception):
    """A call the gate answers itself; ``retry_after`` is the hint for retryable ones."""

    def __init__(self, kind: Refusal, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    @property
    def status(self) -> int:
        """The HTTP status."""
        return _SHAPES[self.kind][0]

    @property
    def error_type(self) -> str:
        """The provider's error type (``permission_error``, …)."""
        return _SHAPES[self.kind][1]

    @property
    def code(self) -> str:
        """A stable code for automation (``agent_quarantined``, …)."""
        return _SHAPES[self.kind][2]

    def headers(self) -> dict[str, str]:
        """Whether and when to retry, as the openai and anthropic SDKs read it."""
        if self.kind not in RETRYABLE:
            return {"x-should-retry": "false"}
        headers = {"x-should-retry": "true"}
        if self.retry_after is not None:
            wait = min(MAX_RETRY_AFTER, max(0.0, self.retry_after))
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
        return headers
