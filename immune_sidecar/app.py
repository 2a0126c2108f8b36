"""Wires the sidecar's parts together from its config, and runs them."""

import dataclasses
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc
from prometheus_client import CollectorRegistry

from immune_common.config import ConfigError, split_address
from immune_common.tls import channel_credentials, check_pem

from .actuate import (
    Actuator,
    ActuatorRunner,
    Command,
    CommandActuator,
    DryRun,
    Outcome,
    ReadinessGate,
    WebhookActuator,
)
from .actuate.kube import KubernetesActuator, KubeTarget, PodApi, in_cluster
from .admin import AdminViews, admin_server
from .agents import AgentRegistry
from .config import ActuatorConfig, SidecarConfig
from .detect import BaselineSettings, Detector
from .detect.shared import SharedShifts
from .forward import Forwarder, Tee, sender_for
from .gate import Gate, GateActuator, GateMetrics, Meter, Policy, build_routes
from .link import LinkClient, LinkSettings
from .pipeline import Pipeline
from .quarantine import QUARANTINED, QuarantineBook
from .receiver import GrpcReceiver, Handler, Limits, http_receiver
from .state import StateDir
from .telemetry import SidecarMetrics
from .views import AgentViews
from .vitals import DeltaTracker, Mapper
from .vitals.mapping_file import load_mapping

log = logging.getLogger(__name__)
BASELINES, QUARANTINE = "baselines", "quarantine"
TICK_SECONDS = 1.0


class Sidecar:
    """One sidecar process's parts; ``start`` binds the ports, ``stop`` persists state."""

    def __init__(
        self,
        config: SidecarConfig,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        # Only the Kubernetes actuator looks here (for the pod it runs in).
        self.environ = environ or {}
        self.metrics = SidecarMetrics(CollectorRegistry())
        self.state = StateDir(config.state_dir or None)
        # With control, releases are control's decision; standalone, they follow the timer.
        policy = None if config.control else config.ejection
        self.book = QuarantineBook(policy, on_change=self._save_quarantine)
        self.state.restore_each(QUARANTINE, [], lambda _, entry: self.book.restore([entry]))
        self.detector = Detector(_detection(config), on_relearn=self._relearned)
        self.state.restore_each(BASELINES, {}, self.detector.restore_agent)
        mapping = load_mapping(config.mapping)
        self.mapper = Mapper(
            mapping.rules,
            mapping.prices,
            DeltaTracker(config.max_streams, config.stream_ttl_seconds),
            mapping.prompt_keys,
            config.detection.deploy_keys,
            config.span_interval_seconds,
            config.identity,
            config.sample_seconds,
        )
        self.agents = AgentRegistry(config.max_agents, self._is_held, self._evicted)
        self.readiness: ReadinessGate | None = None  # set when a readiness actuator is configured
        self.link: LinkClient | None = None
        self.gate, self._gate_policy = self._egress(environ)
        self.runner = ActuatorRunner(self._actuators(), self._acted, clock)
        self.pipeline = Pipeline(
            self.mapper,
            self.detector,
            self.agents,
            self.book,
            self.runner,
            self.metrics,
            clock,
            SharedShifts(config.detection.shared_shift_share),
        )
        self.views = AgentViews(
            self.agents, self.detector, self.book, lambda: self.pipeline.drift, clock
        )
        self.link = self._link()
        self._gauges()
        self.forwarder = self._forwarder()
        consumer = Tee(self.forwarder, self.pipeline) if self.forwarder else self.pipeline
        limits = Limits(
            config.max_message_bytes,
            config.max_in_flight,
            config.retry_after_seconds,
            config.max_requests_per_second,
        )
        self.handler = Handler(consumer, limits, self._count, clock)
        self._servers: list = []
        self._stop_flush = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="state-flush", daemon=True)

    def start(self) -> None:
        """Bind and serve OTLP (gRPC, HTTP) and the admin endpoint, and start every thread;
        when a part fails to start, what had started is stopped again."""
        try:
            self._start()
        except BaseException:
            self._halt()
            raise
        c = self.config
        log.info(
            "listening: OTLP/gRPC %s, OTLP/HTTP %s, admin %s, gate %s (state: %s)",
            *(_bound(getattr(c, k), self.ports[k]) for k in ("otlp_grpc", "otlp_http", "admin")),
            _bound(c.gate.listen, self.ports["gate"]) if self.gate else "off",
            c.state_dir or "not kept; use --state-dir to survive restarts",
        )

    def _start(self) -> None:
        self.runner.start()
        if self.forwarder:
            self.forwarder.start()
        c = self.config
        grpc_receiver = self._serve(GrpcReceiver(self.handler, c.otlp_grpc))
        http = self._serve(http_receiver(self.handler, *split_address(c.otlp_http, "otlp_http")))
        admin = self._serve(admin_server(self._views(), *split_address(c.admin, "admin")))
        self.ports = {"otlp_grpc": grpc_receiver.port, "otlp_http": http.port, "admin": admin.port}
        self.ports["gate"] = self._serve(self.gate).port if self.gate else 0
        self._flusher.start()
        if self.link is not None:
            self.link.start()

    def _serve(self, server):
        server.start()
        self._servers.append(server)
        return server

    def stop(self) -> None:
        """Stop serving, finish queued work and persist the baselines."""
        self._halt()
        self.save()

    def _halt(self) -> None:
        self._stop_flush.set()
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()
        if self.link is not None:
            self.link.stop()
        self.runner.close()
        if self.forwarder:
            self.forwarder.close()

    def save(self) -> None:
        """Write the baselines to the state dir."""
        self.state.write(BASELINES, self.detector.snapshot())

    def _flush_loop(self) -> None:
        """Judge the agents whose calls and spans waited long enough, every second; save
        the baselines every ``state_flush_seconds``."""
        saved = time.monotonic()
        while not self._stop_flush.wait(TICK_SECONDS):
            try:
                self.pipeline.tick()
            except Exception:  # one bad tick must not end the baselines' saving
                log.exception("judging the agents due a sample failed")
            if time.monotonic() - saved >= self.config.state_flush_seconds:
                self.save()
                saved = time.monotonic()

    def adopt(self, agent_id: str) -> None:
        """An operator called the agent's infection a false positive: its level is normal."""
        adopted = self.detector.adopt(agent_id)
        self.metrics.relearns.labels("false_positive").inc()
        log.info("%s: a false positive; its baselines adopt %s", agent_id, ", ".join(adopted))

    def _relearned(self, agent_id: str, reason: str) -> None:
        self.metrics.relearns.labels(reason).inc()

    def _save_quarantine(self, snapshot: list[dict]) -> None:
        self.state.write(QUARANTINE, snapshot)

    def _is_held(self, agent_id: str) -> bool:
        return self.book.state(agent_id, self.clock()) == QUARANTINED

    def _evicted(self, agent_ids: list[str]) -> None:
        now = self.clock()
        for agent_id in agent_ids:
            self.detector.forget(agent_id)
            self.mapper.forget(agent_id)
            self.pipeline.forget(agent_id)
            self.book.forget(agent_id, now)
        self.metrics.agents_evicted.inc(len(agent_ids))

    def _count(self, signal, transport: str, outcome: str, accepted: int, refused: int) -> None:
        self.metrics.requests.labels(transport, outcome).inc()
        items = self.metrics.items_of(signal.name)
        if accepted:
            items.labels(transport, "accepted").inc(accepted)
        if refused:
            items.labels(transport, "refused").inc(refused)

    def _acted(self, command: Command, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.metrics.actions.labels(command.kind, "ok" if outcome.ok else "failed").inc()
        if self.link is not None:
            self.link.on_acted(command, outcomes)

    def _link(self) -> LinkClient | None:
        if not self.config.control:
            return None
        c = self.config
        control_token(c)  # a missing token or certificate file is a config error at start
        for key in ("control_ca_file", "control_cert_file", "control_key_file"):
            check_pem(getattr(c, key), key)
        settings = LinkSettings(
            c.control, c.sidecar_id, c.link_buffer, c.link_backoff_seconds,
            c.link_max_backoff_seconds,
        )  # fmt: skip
        link = LinkClient(
            settings,
            state=self.state,
            book=self.book,
            runner=self.runner,
            agents=self.agents,
            status_of=self.views.status,
            clock=self.clock,
            credentials=functools.partial(control_credentials, c),
            token=functools.partial(control_token, c),
            adopt=self.adopt,
        )
        self.pipeline.add_listener(link.on_infection)
        self.pipeline.add_clean_listener(link.on_clean)
        return link

    def _gauges(self) -> None:
        self.metrics.quarantined.set_function(lambda: len(self.book.held(self.clock())))
        self.metrics.agents.set_function(lambda: len(self.agents))

    def _forwarder(self) -> Forwarder | None:
        if not self.config.forward:
            return None
        sender = sender_for(self.config.forward, self.config.forward_timeout_seconds)
        return Forwarder(sender, self.config.forward_queue, self.metrics)

    def _actuators(self) -> list[Actuator]:
        actuators = [self._actuator(c) for c in self.config.actuators]
        if self.gate and not any(c.kind == "gate" for c in self.config.actuators):
            actuators.append(self._actuator(ActuatorConfig(kind="gate")))
        return actuators

    def _actuator(self, c: ActuatorConfig) -> Actuator:
        if c.kind == "readiness":
            self.readiness = ReadinessGate(self.book, c.dry_run, self.clock)
            return self.readiness
        if c.kind == "gate":
            actuator = GateActuator(self.gate, self._gate_policy, self.config.gate)
        elif c.kind == "webhook":
            actuator = WebhookActuator(c.url, c.timeout_seconds, c.retries)
        elif c.kind == "kubernetes":
            actuator = KubernetesActuator(PodApi(kube_target(c, self.environ)), self.clock)
        else:
            actuator = CommandActuator(c.command, c.timeout_seconds)
        return DryRun(actuator) if c.dry_run else actuator

    def _egress(self, environ: Mapping[str, str] | None) -> tuple[Gate | None, Policy | None]:
        settings = self.config.gate
        if not settings.enabled:
            return None, None
        table = build_routes(settings, environ)  # a missing key is a config error at start
        policy = Policy(self.book, settings, self.clock)
        meter = Meter(GateMetrics(self.metrics.registry), self.mapper.calls, self.clock)
        agent_id = settings.agent or self.config.sidecar_id or socket.gethostname()
        return Gate(settings, table, policy, meter, agent_id), policy

    def _views(self) -> AdminViews:
        ready = self.readiness.verdict if self.readiness else lambda: (True, {"status": "ready"})
        return AdminViews(
            ready,
            self.views.agents,
            self.views.agent,
            self.metrics.registry,
        )


def _bound(configured: str, port: int) -> str:
    host = configured.rpartition(":")[0]
    return f"{host}:{port}"


def kube_target(c: ActuatorConfig, environ: Mapping[str, str]) -> KubeTarget:
    """The API server and pod a kubernetes actuator works on: in-cluster unless ``url`` is set."""
    if not c.url:
        try:
            found = in_cluster(dict(environ), c.pod, c.namespace)
        except (ValueError, OSError) as exc:
            raise ConfigError(f"kubernetes actuator: {exc} (or set its url)") from None
        return dataclasses.replace(found, timeout_seconds=c.timeout_seconds)
    token = _secret(c.token_file, "kubernetes actuator token_file")
    check_pem(c.ca_file, "kubernetes actuator ca_file")
    pod = c.pod or environ.get("POD_NAME", "")
    return KubeTarget(c.url, c.namespace or "default", pod, token, c.ca_file, c.timeout_seconds)


def control_token(c: SidecarConfig) -> str:
    """The link's bearer token as its file holds it now ('' without one)."""
    return _secret(c.control_token_file, "control_token_file")


def _secret(path: str, key: str) -> str:
    """A token file's content ('' without a file); ConfigError naming ``key`` when unreadable."""
    if not path:
        return ""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None


def control_credentials(c: SidecarConfig) -> grpc.ChannelCredentials | None:
    """TLS credentials for the link from the PEM files as they are now; None for plaintext."""
    if not (c.control_tls or c.control_ca_file):
        return None
    return channel_credentials(c.control_ca_file, c.control_cert_file, c.control_key_file)


def _detection(config: SidecarConfig) -> BaselineSettings:
    """The detection settings: with control, a lasting shift becomes the agent's normal only
    when an operator says so (a false positive), never after its repeated ejections."""
    if not config.control:
        return config.detection
    return dataclasses.replace(config.detection, relearn_after_ejections=0)
