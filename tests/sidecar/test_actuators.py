"""Actuators against a real local webhook server and a real program; dry-run; the runner."""

import json
import sys
import threading
import time

import pytest

from immune_common.httpserve import BackgroundServer, QuietHandler
from immune_sidecar.actuate import (
    APPLY_ACTION,
    QUARANTINE,
    ActuatorRunner,
    Command,
    CommandActuator,
    DryRun,
    WebhookActuator,
)


class Hook:
    """A webhook receiver that answers with a scripted list of (status, body)."""

    def __init__(self, answers):
        self.answers, self.received = list(answers), []
        hook = self

        class Handler(QuietHandler):
            def do_POST(self):
                hook.received.append(
                    json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                )
                status, body = hook.answers.pop(0) if len(hook.answers) > 1 else hook.answers[0]
                self.reply(status, json.dumps(body).encode(), "application/json")

        self.server = BackgroundServer(Handler, "127.0.0.1", 0, "hook")
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}/act"


@pytest.fixture
def hook_factory():
    hooks = []

    def make(*answers):
        hooks.append(Hook(answers))
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.server.stop()


COMMAND = Command(APPLY_ACTION, "agent-7", "revoke_tools", "tool loop", "inc-1")


def test_webhook_posts_the_documented_json(hook_factory):
    hook = hook_factory((200, {"ok": True, "message": "tools revoked"}))
    outcome = WebhookActuator(hook.url).apply(COMMAND)
    assert outcome.ok and outcome.message == "tools revoked"
    assert hook.received == [COMMAND.to_json()]
    assert set(hook.received[0]) == {
        "command_id",
        "command",
        "agent_id",
        "action",
        "reason",
        "incident_id",
    }


def test_webhook_retries_transient_failures_only(hook_factory):
    flaky = hook_factory((503, {}), (200, {"ok": True}))
    assert WebhookActuator(flaky.url, retries=2, backoff=0.01).apply(COMMAND).ok
    assert len(flaky.received) == 2
    refused = hook_factory((400, {"error": "unknown agent"}))
    outcome = WebhookActuator(refused.url, retries=3, backoff=0.01).apply(COMMAND)
    assert not outcome.ok and "400" in outcome.message and len(refused.received) == 1


def test_webhook_reports_a_failed_action_and_an_unreachable_endpoint(hook_factory):
    hook = hook_factory((200, {"ok": False, "message": "agent busy"}))
    assert WebhookActuator(hook.url).apply(COMMAND).message == "agent busy"
    dead = WebhookActuator("http://127.0.0.1:9/none", timeout=0.5, retries=1, backoff=0.01)
    outcome = dead.apply(COMMAND)
    assert not outcome.ok and "unreachable" in outcome.message


def test_webhook_timeout_is_bounded(hook_factory):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    started = time.monotonic()
    outcome = WebhookActuator(f"http://127.0.0.1:{silent.getsockname()[1]}/", 0.3, 0).apply(COMMAND)
    assert not outcome.ok and time.monotonic() - started < 5
    silent.close()


def test_command_actuator_runs_a_program(tmp_path):
    script = tmp_path / "act.py"
    script.write_text(
        "import json, os, sys\n"
        "cmd = json.load(sys.stdin)\n"
        "print(f\"{os.environ['IMMUNE_ACTION']} on {cmd['agent_id']}\")\n"
        "sys.exit(0 if cmd['action'] != 'clone_agent' else 3)\n"
    )
    actuator = CommandActuator([sys.executable, str(script)])
    outcome = actuator.apply(COMMAND)
    assert outcome.ok and outcome.message == "revoke_tools on agent-7"
    failed = actuator.apply(Command(APPLY_ACTION, "agent-7", "clone_agent"))
    assert not failed.ok
    slow = CommandActuator([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.3)
    assert "timed out" in slow.apply(COMMAND).message
    assert "cannot run" in CommandActuator(["/no/such/program"]).apply(COMMAND).message


def test_dry_run_does_nothing(hook_factory):
    hook = hook_factory((200, {"ok": True}))
    outcome = DryRun(WebhookActuator(hook.url)).apply(COMMAND)
    assert outcome.ok and outcome.dry_run and "would revoke_tools" in outcome.message
    assert hook.received == []


def test_runner_applies_in_order_off_thread_and_on_schedule(hook_factory):
    hook = hook_factory((200, {"ok": True}))
    done, finished = [], threading.Event()

    def record(command, outcomes):
        done.append((command.kind, [o.ok for o in outcomes]))
        if len(done) == 2:
            finished.set()

    runner = ActuatorRunner([WebhookActuator(hook.url)], on_done=record)
    runner.submit_at(time.time() + 0.2, Command("release", "a"), lambda: True)
    runner.submit_at(time.time() + 0.1, Command("release", "b"), lambda: False)  # no longer due
    runner.submit(Command(QUARANTINE, "a"))
    assert finished.wait(5)
    runner.close()
    assert done == [("quarantine", [True]), ("release", [True])]
    assert [r["agent_id"] for r in hook.received] == ["a", "a"]


def test_healing_actions_skip_actuators_that_only_contain(hook_factory):
    from immune_sidecar.actuate import ReadinessGate
    from immune_sidecar.quarantine import QuarantineBook

    hook = hook_factory((200, {"ok": True}))
    done, finished = [], threading.Event()
    gate = ReadinessGate(QuarantineBook(None))
    runner = ActuatorRunner(
        [gate, DryRun(WebhookActuator(hook.url))],
        on_done=lambda c, o: (done.append((c.kind, [x.actuator for x in o])), finished.set()),
    )
    runner.submit(COMMAND)
    assert finished.wait(5)
    runner.close()
    assert done == [(APPLY_ACTION, [f"webhook {hook.url}"])]
