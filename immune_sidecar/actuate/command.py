"""Local command actuator: runs a program with the command on stdin and in its environment.

The program gets the command's JSON on stdin and ``IMMUNE_COMMAND``,
``IMMUNE_AGENT_ID``, ``IMMUNE_ACTION``, ``IMMUNE_REASON`` and
``IMMUNE_INCIDENT_ID`` in its environment. Exit status 0 is success; the last
line it prints is the message.
"""

import json
import os
import subprocess
from collections.abc import Sequence

from immune_common.vocab import ACTIONS

from .base import Command, Outcome


class CommandActuator:
    """Runs a local program for every command."""

    actions = frozenset(ACTIONS)

    def __init__(self, argv: Sequence[str], timeout: float = 30.0):
        self.name = f"command {argv[0]}"
        self._argv, self._timeout = list(argv), timeout

    def apply(self, command: Command) -> Outcome:
        """Run the program and read its verdict from the exit status."""
        env = {**os.environ, **_environment(command)}
        try:
            done = subprocess.run(
                self._argv,
                input=json.dumps(command.to_json()),
                capture_output=True,
                text=True,
                env=env,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Outcome(self.name, False, f"timed out after {self._timeout:g}s")
        except OSError as exc:
            return Outcome(self.name, False, f"cannot run: {exc.strerror}")
        lines = (done.stdout or done.stderr).strip().splitlines()
        message = lines[-1] if lines else f"exit status {done.returncode}"
        return Outcome(self.name, done.returncode == 0, message)


def _environment(command: Command) -> dict[str, str]:
    return {
        "IMMUNE_COMMAND": command.kind,
        "IMMUNE_AGENT_ID": command.agent_id,
        "IMMUNE_ACTION": command.action,
        "IMMUNE_REASON": command.reason,
        "IMMUNE_INCIDENT_ID": command.incident_id,
    }
