"""The link client: one stream to control, resumed after every cut, losing nothing.

Reports (agents seen, infections, action and probation results) are kept on
disk until control acks them and resent after a reconnect; health is sent
live only. Commands from control are carried out once (their ids are
remembered across restarts) and acked.
"""

import dataclasses
import logging
import queue
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable

import grpc
from immune.v1 import common_pb2 as pb
from immune.v1 import link_pb2, link_pb2_grpc

from immune_common import wire

from ..actuate import APPLY_ACTION, QUARANTINE, RELEASE, ActuatorRunner, Command, Outcome
from ..agents import AgentRegistry
from ..detect import Infection
from ..quarantine import QUARANTINED, Ejection, QuarantineBook
from ..state import StateDir
from ..vitals import VitalSample
from . import convert
from .outbox import Outbox
from .probation import Probation, Watch

log = logging.getLogger(__name__)
VERSION = "0.1.0"
TICK = 0.2
REFUSED_RETRY_SECONDS = 30.0  # a report control refused is offered again this much later


@dataclasses.dataclass(frozen=True)
class LinkSettings:
    """Where control listens, who this sidecar is, and how the link keeps going."""

    target: str
    sidecar_id: str = ""  # the host name when empty
    buffer: int = 10_000  # reports kept on disk while control is away
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 15.0


class LinkClient:
    """Keeps one Connect stream open to control and carries out its commands."""

    def __init__(
        self,
        settings: LinkSettings,
        *,
        state: StateDir,
        book: QuarantineBook,
        runner: ActuatorRunner,
        agents: AgentRegistry,
        status_of: Callable[[str], str],
        clock: Callable[[], float] = time.time,
        credentials: Callable[[], grpc.ChannelCredentials | None] = lambda: None,
        token: Callable[[], str] = lambda: "",
        adopt: Callable[[str], None] = lambda agent_id: None,
    ) -> None:
        self.target = settings.target
        self.sidecar_id = settings.sidecar_id or socket.gethostname()
        self._settings = settings
        self._book, self._runner, self._agents = book, runner, agents
        self._status_of, self._clock = status_of, clock
        # Called for every connection, so rotated certificate files are picked up.
        self._credentials = credentials
        self._adopt = adopt  # a false positive: the agent's baselines take its level
        self._token = token  # read for every connection, like the certificates
        self._refused: dict[str, float] = {}  # message id → when to offer it again
        self.outbox = Outbox(state, settings.buffer)
        self._probation = Probation()
        self._live: queue.Queue | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._actions: dict[str, tuple[str, int, float]] = {}
        self._labels_sent: dict[str, tuple] = {}
        self._health_interval = 10.0
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)

    def start(self) -> None:
        """Connect in the background (and keep reconnecting)."""
        self._thread.start()

    def stop(self) -> None:
        """Close the stream; unacked reports stay on disk."""
        self._stop.set()
        self._send(None)
        if self._thread.is_alive():
            self._thread.join(5)

    # hooks from the pipeline and the actuators

    def on_infection(self, infection: Infection, ejection: Ejection) -> None:
        """A local quarantine (or a waived one): report it, or end a probation watch."""
        watch = self._probation.infected(infection.agent_id)
        if watch is None:
            body = convert.infection(infection, self.sidecar_id, quarantined=not ejection.waived)
            self._report(infection=link_pb2.InfectionReport(infection=body))
            return
        self._probation_done(watch, convert.infection(infection, self.sidecar_id, quarantined=True))

    def on_clean(self, sample: VitalSample) -> None:
        """A clean sample counts towards the agent's probation."""
        watch = self._probation.clean(sample.agent_id)
        if watch is not None:
            self._probation_done(watch)

    def on_acted(self, command: Command, outcomes: list[Outcome]) -> None:
        """An applied healing action: tell control how it went."""
        if command.kind != APPLY_ACTION or command.id not in self._actions:
            return
        action_id, action, started = self._actions.pop(command.id)
        ok = bool(outcomes) and all(o.ok for o in outcomes)
        detail = "; ".join(f"{o.actuator}: {o.message}" for o in outcomes) or (
            f"no actuator here carries out {action}"
        )
        self._report(
            action_result=link_pb2.ActionResult(
                command_id=command.id,
                incident_id=command.incident_id,
                agent_id=command.agent_id,
                action_id=action_id,
                action=action,
                ok=ok,
                detail=detail,
                dry_run=any(o.dry_run for o in outcomes),
                elapsed=wire.duration(self._clock() - started),
            )
        )

    # the stream

    def _run(self) -> None:
        delay = self._settings.backoff_seconds
        while not self._stop.is_set():
            try:
                self._session()
                delay = self._settings.backoff_seconds
            except grpc.RpcError as exc:
                log.warning(
                    "link to control %s: %s; retrying in %.1fs",
                    self.target,
                    exc.code().name if hasattr(exc, "code") else exc,
                    delay,
                )
            except (OSError, ValueError) as exc:  # a credential file gone since start
                log.warning("link to control %s: %s; retrying in %.1fs", self.target, exc, delay)
            except Exception:
                log.exception("link to control %s failed; retrying", self.target)
            finally:
                self.connected.clear()
                with self._lock:
                    self._live = None
            self._stop.wait(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._settings.max_backoff_seconds)

    def _channel(self) -> grpc.Channel:
        credentials = self._credentials()
        if credentials is None:
            return grpc.insecure_channel(self.target)
        return grpc.secure_channel(self.target, credentials)

    def _session(self) -> None:
        with self._channel() as channel:
            stub = link_pb2_grpc.SidecarLinkServiceStub(channel)
            live: queue.Queue = queue.Queue()
            with self._lock:
                backlog = self.outbox.pending()
                self._live = live
            token = self._token()
            metadata = (("authorization", f"Bearer {token}"),) if token else None
            responses = stub.Connect(self._requests(live, backlog), metadata=metadata)
            for response in responses:
                self._handle(response)
                if self._stop.is_set():
                    responses.cancel()

    def _requests(self, live: queue.Queue, backlog: list):
        yield self._message(
            hello=link_pb2.Hello(
                sidecar_id=self.sidecar_id,
                version=VERSION,
                agent_ids=[r.agent_id for r in self._agents.records()],
                quarantined_agent_ids=[e.agent_id for e in self._book.held(self._clock())],
                applied_command_ids=self.outbox.applied_ids(),
            )
        )
        yield from backlog
        next_health = 0.0
        while True:
            try:
                message = live.get(timeout=TICK)
            except queue.Empty:
                message = False
            if message is None:
                return
            if message:
                yield message
            for watch, passed in self._probation.overdue(self._clock()):
                self._probation_done(watch, healthy=passed)
            yield from self._refused_due()
            if self.connected.is_set() and time.monotonic() >= next_health:
                next_health = time.monotonic() + self._health_interval
                yield from self._health()

    def _handle(self, response: link_pb2.ConnectResponse) -> None:
        kind = response.WhichOneof("body")
        if kind == "welcome":
            interval = response.welcome.health_interval
            self._health_interval = interval.seconds + interval.nanos / 1e9 or 10.0
            self.connected.set()
            log.info(
                "link to control %s open (session %s, %d reports to resend)",
                self.target,
                response.welcome.session_id,
                len(self.outbox),
            )
        elif kind == "ack":
            self.outbox.acked(response.ack.message_ids)
        elif kind == "refused":
            log.warning(
                "control refused %d reports for now (%s); offering them again in %.0fs",
                len(response.refused.message_ids),
                response.refused.reason,
                REFUSED_RETRY_SECONDS,
            )
            due = time.monotonic() + REFUSED_RETRY_SECONDS
            self._refused.update(dict.fromkeys(response.refused.message_ids, due))
        elif kind in ("quarantine", "release", "apply_action"):
            if not self.outbox.applied(response.message_id):
                getattr(self, f"_{kind}")(response.message_id, getattr(response, kind))
                self.outbox.mark_applied(response.message_id)
            self._send(self._message(ack=link_pb2.Ack(message_ids=[response.message_id])))

    def _quarantine(self, command_id: str, body) -> None:
        now = self._clock()
        held = self._book.state(body.agent_id, now) == QUARANTINED
        if body.enforce and not held:
            self._book.eject(body.agent_id, body.reason, (), 0.0, body.incident_id, now)
            self._runner.submit(Command(QUARANTINE, body.agent_id, reason=body.reason))
        elif not body.enforce and self._book.waive(
            body.agent_id, body.reason, body.incident_id, now
        ):
            self._runner.submit(Command(RELEASE, body.agent_id, reason=body.reason))
            log.warning("control waived the quarantine of %s: %s", body.agent_id, body.reason)

    def _release(self, command_id: str, body) -> None:
        now = self._clock()
        window = body.probation if body.HasField("probation") else None
        timeout = window.timeout.seconds + window.timeout.nanos / 1e9 if window else 0.0
        if window is not None:
            self._probation.start(
                Watch(
                    command_id,
                    body.incident_id,
                    body.agent_id,
                    max(1, window.samples),
                    now + timeout,
                )
            )
        self._book.release(body.agent_id, now, probation_seconds=timeout)
        if body.adopt_baseline:
            self._adopt(body.agent_id)
        self._runner.submit(
            Command(RELEASE, body.agent_id, reason=body.reason, incident_id=body.incident_id)
        )

    def _apply_action(self, command_id: str, body) -> None:
        self._actions[command_id] = (body.action_id, body.action, self._clock())
        self._runner.submit(
            Command(
                APPLY_ACTION,
                body.agent_id,
                action=convert.action_name(body.action),
                reason=f"healing {body.incident_id}",
                incident_id=body.incident_id,
                id=command_id,
            )
        )

    def _refused_due(self) -> list[link_pb2.ConnectRequest]:
        """Refused reports whose time to be offered again has come (still unacked)."""
        now = time.monotonic()
        due = [i for i, at in self._refused.items() if at <= now]
        for message_id in due:
            del self._refused[message_id]
        return self.outbox.pending(due) if due else []

    def _health(self):
        agents = []
        for record in self._agents.records():
            labels = record.labels
            fingerprint = (
                labels.model,
                labels.provider,
                sorted(labels.tools),
                sorted(labels.mcp_servers),
            )
            if self._labels_sent.get(record.agent_id) != fingerprint:
                self._labels_sent[record.agent_id] = fingerprint
                self._report(
                    agent_seen=link_pb2.AgentSeen(
                        agent=pb.Agent(
                            id=record.agent_id,
                            name=labels.name or record.agent_id,
                            model=labels.model,
                            provider=labels.provider,
                            tools=sorted(labels.tools),
                            mcp_servers=sorted(labels.mcp_servers),
                            sidecar_id=self.sidecar_id,
                            first_seen_time=wire.timestamp(record.first_seen),
                            last_seen_time=wire.timestamp(record.last_seen),
                        )
                    )
                )
            vitals = link_pb2.AgentVitals(
                agent_id=record.agent_id,
                samples_total=record.samples,
                status=convert.STATUS.get(self._status_of(record.agent_id), 0),
            )
            if record.latest is not None:
                vitals.latest.CopyFrom(convert.sample(record.latest))
            agents.append(vitals)
        yield self._message(health=link_pb2.Health(agents=agents))

    def _probation_done(
        self, watch: Watch, reinfection: pb.Infection | None = None, healthy: bool = True
    ) -> None:
        """Report the end of a watch: healthy, or re-infected with ``reinfection``."""
        self._report(
            probation_result=link_pb2.ProbationResult(
                command_id=watch.command_id,
                incident_id=watch.incident_id,
                agent_id=watch.agent_id,
                healthy=healthy and reinfection is None,
                samples=watch.seen,
                infection=reinfection,
            )
        )

    def _report(self, **body) -> None:
        message = self._message(**body)
        with self._lock:
            self.outbox.add(message)
            live = self._live
        if live is not None:
            live.put(message)

    def _send(self, message) -> None:
        with self._lock:
            live = self._live
        if live is not None:
            live.put(message)

    def _message(self, **body) -> link_pb2.ConnectRequest:
        return link_pb2.ConnectRequest(
            message_id=uuid.uuid4().hex, send_time=wire.timestamp(self._clock()), **body
        )
