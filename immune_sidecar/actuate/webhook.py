"""Webhook actuator: POSTs the command as JSON, retries what can be retried.

Request body: ``{"command_id", "command", "agent_id", "action", "reason",
"incident_id"}``. A 2xx answer is success; its JSON body may carry
``{"ok": false, "message": "..."}`` to report that the action itself failed.
Connection errors, timeouts, 429 and 5xx are retried with backoff; other 4xx
are not.
"""

import json
import time
import urllib.error
import urllib.request

from immune_common.vocab import ACTIONS

from .base import Command, Outcome

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class WebhookActuator:
    """Sends commands to an HTTP endpoint that acts on the agent."""

    actions = frozenset(ACTIONS)

    def __init__(self, url: str, timeout: float = 5.0, retries: int = 2, backoff: float = 0.5):
        self.name = f"webhook {url}"
        self._url, self._timeout, self._retries, self._backoff = url, timeout, retries, backoff

    def apply(self, command: Command) -> Outcome:
        """POST the command; retry transient failures."""
        body = json.dumps(command.to_json()).encode()
        for attempt in range(self._retries + 1):
            outcome, retryable = self._post(body)
            if outcome.ok or not retryable or attempt == self._retries:
                return outcome
            time.sleep(self._backoff * 2**attempt)
        return outcome

    def _post(self, body: bytes) -> tuple[Outcome, bool]:
        request = urllib.request.Request(
            self._url, body, {"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return self._answer(response.read()), False
        except urllib.error.HTTPError as exc:
            message = f"HTTP {exc.code} from webhook"
            return Outcome(self.name, False, message), exc.code in RETRYABLE_STATUS
        except (OSError, urllib.error.URLError) as exc:
            return Outcome(self.name, False, f"webhook unreachable: {exc}"), True

    def _answer(self, raw: bytes) -> Outcome:
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        return Outcome(self.name, bool(data.get("ok", True)), str(data.get("message", "")))
