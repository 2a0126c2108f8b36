"""The console as its own process, and the steps the browser tests share."""

import os
import ssl
import subprocess
import sys
import urllib.request

from immune_sdk import Client, names
from selenium.webdriver.common.by import By

from tests.support.browser import press, wait
from tests.support.control import wait_for
from tests.support.sidecar import free_port


class ConsoleProcess:
    """immune-console as its own process, as operators run it."""

    def __init__(self, control: str, operator: str = "dana", *extra: str, https: bool = False):
        self.port = free_port()
        self.url = f"{'https' if https else 'http'}://127.0.0.1:{self.port}"
        argv = ["--control", control, "--listen", f"127.0.0.1:{self.port}", "--operator", operator]
        argv += extra
        self._context = ssl._create_unverified_context() if https else None
        # NiceGUI switches to its own test mode when it sees pytest's variable.
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
        self.process = subprocess.Popen([sys.executable, "-m", "immune_console", *argv], env=env)
        assert wait_for(self._answers, timeout=120), "the console did not start"

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=2, context=self._context) as reply:
                return reply.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def state(client: Client, agent_id: str) -> str:
    """The state name of the agent's newest incident."""
    return names.name(names.STATE, client.incidents(agent_id=agent_id)[0].state)


def confirm(browser) -> None:
    """Click the dialog's last button (its confirmation) and wait for the dialog to close."""
    press(browser, "Confirm")
    wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".q-dialog"))
