"""Actuators against a real local webhook server and a real program; dry-run; the runner."""

import json
import socket
import sys
import threading
import time

import pytest

from bench.evaluation.detection import SimClock
from immune_common.httpserve import BackgroundServer, QuietHandler
from immune_sidecar.actuate import (
    APPLY_ACTION,
    QUARANTINE,
    ActuatorRunner,
    Command,
    CommandActuator,
    DryRun,
    Outcome,
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
    runner.start()
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
    runner.start()
    runner.submit(COMMAND)
    assert finished.wait(5)
    runner.close()
    assert done == [(APPLY_ACTION, [f"webhook {hook.url}"])]


class Raising:
    """An actuator that raises on its first command (a full disk, a bug) and then works."""

    name, actions = "raising", frozenset({"revoke_tools"})

    def __init__(self) -> None:
        self.calls = 0

    def apply(self, command: Command) -> Outcome:
        self.calls += 1
        if self.calls == 1:
            raise OSError(28, "No space left on device")
        return Outcome(self.name, True, "done")


def test_an_actuator_or_listener_that_raises_is_a_failed_outcome_and_the_worker_goes_on():
    done, listened = [], threading.Event()

    def record(command, outcomes):
        done.append((command.agent_id, [(o.ok, o.message) for o in outcomes]))
        if command.agent_id == "b":
            raise OSError(28, "No space left on device")  # the outbox write, say
        if command.agent_id == "c":
            listened.set()

    runner = ActuatorRunner([Raising()], on_done=record)
    runner.start()
    for agent in ("a", "b", "c"):
        runner.submit(Command(QUARANTINE, agent))
    assert listened.wait(5)
    runner.close()
    assert done[0] == ("a", [(False, "raised OSError: [Errno 28] No space left on device")])
    assert done[1:] == [("b", [(True, "done")]), ("c", [(True, "done")])]


def test_scheduled_commands_run_on_the_runners_clock_not_the_walls():
    clock = SimClock()
    clock.now = 1_000.0
    released = threading.Event()
    runner = ActuatorRunner([], on_done=lambda c, o: released.set(), clock=clock)
    runner.start()
    runner.submit_at(1_600.0, Command("release", "a"), lambda: True)
    assert not released.wait(1.5)  # ten simulated minutes have not passed, however long we wait
    clock.now = 1_600.0
    assert released.wait(5)
    runner.close()


def test_a_start_that_fails_stops_what_it_had_bound(tmp_path):
    from immune_sidecar.app import Sidecar
    from immune_sidecar.config import SidecarConfig
    from tests.support.sidecar import free_port

    ports = [free_port(), free_port()]
    before = set(threading.enumerate())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        config = SidecarConfig(
            otlp_grpc=f"127.0.0.1:{ports[0]}",
            otlp_http=f"127.0.0.1:{ports[1]}",
            admin=f"127.0.0.1:{busy.getsockname()[1]}",
        )
        sidecar = Sidecar(config)
        with pytest.raises(OSError):
            sidecar.start()
    assert not _threads_left(before)  # no thread left running
    for port in ports:  # both OTLP ports are free again
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def _threads_left(before: set, within: float = 5.0) -> set:
    """Threads started since ``before`` still alive after ``within`` seconds.

    gRPC's stop() signals its waiter before its grace thread returns, so a
    stopped server's thread may take a moment to end; one still alive after
    seconds is a leak.
    """
    deadline = time.monotonic() + within
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
