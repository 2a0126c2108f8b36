"""Wires control together: DuckDB, the engine thread, gRPC (API, link, health, reflection)."""

import asyncio
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from immune.v1 import control_pb2, link_pb2, link_pb2_grpc
from prometheus_client import CollectorRegistry, start_http_server

from immune_common.config import ConfigError, split_address
from immune_common.tls import CertificateReloader, TlsFiles, server_credentials

from .access import TokenBook, from_environ, parse_token_file
from .api.gate import Gate
from .api.servicer import ControlServicer, add_to_server
from .config import ControlConfig
from .control import Control
from .engine import Engine
from .errors import InvalidArgument
from .link.gate import LinkGate
from .link.server import LinkServicer, Sessions
from .store import Database, Store
from .telemetry import ControlMetrics

log = logging.getLogger(__name__)
SERVICES = (
    control_pb2.DESCRIPTOR.services_by_name["ControlService"].full_name,
    link_pb2.DESCRIPTOR.services_by_name["SidecarLinkService"].full_name,
)
TICK_SECONDS = 0.25


class _Listener(NamedTuple):
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int


class ControlApp:
    """One control process; ``run`` serves until ``stop`` is called (from any thread)."""

    def __init__(self, config: ControlConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        # Only IMMUNE_API_TOKEN_* variables are read from here.
        self.tokens = load_tokens(config.token_file, environ or {})
        self.link_gate = LinkGate(self.tokens, mutual=config.link_tls.mutual)
        _check_open_link(config, self.link_gate)
        self.port = 0
        self.link_port = 0
        self.metrics_port = 0
        self.reloaders: list[CertificateReloader] = []
        self.ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self) -> None:
        """Open the database and serve (blocks)."""
        asyncio.run(self._serve())

    def stop(self) -> None:
        """Ask the server to finish in-flight calls and exit."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        db = Database(self.config.db_path)
        reads = ThreadPoolExecutor(4, thread_name_prefix="reads")
        sessions = Sessions(self._loop)
        control = Control(self.config, Store(db), sessions)
        engine = Engine(control.ledger.change)
        metrics = ControlMetrics(CollectorRegistry())
        metrics.watch(control.ledger, sessions.connected)
        listeners = self._servers(control, sessions, engine, reads, metrics)
        for listener in listeners:
            await listener.server.start()
            for name in ("", *SERVICES):
                await listener.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._metrics(metrics)
        log.info(
            "control listening on %s:%d%s, link on port %d%s (database %s, schema v%d)",
            split_address(self.config.listen, "listen")[0],
            self.port,
            " with TLS" if self.config.api_tls.enabled else "",
            self.link_port,
            " with mutual TLS" if self.config.link_tls.mutual else "",
            db.path,
            db.version,
        )
        self.ready.set()
        ticker = asyncio.ensure_future(self._tick(control, engine))
        await self._stop.wait()
        for listener in listeners:
            await listener.health.enter_graceful_shutdown()
        ticker.cancel()
        await asyncio.gather(*(listener.server.stop(grace=5) for listener in listeners))
        engine.shutdown(wait=True)
        reads.shutdown(wait=True)
        db.close()
        log.info("control stopped")

    def _servers(self, control, sessions, engine, reads, metrics):
        """The API server (which also carries the link unless it has its own) and the link's."""
        api = self._server(self.config.listen, self.config.api_tls)
        add_to_server(
            ControlServicer(
                control,
                engine,
                reads,
                self._gate(),
                lambda reason: metrics.refused.labels("api", reason).inc(),
            ),
            api.server,
        )
        link = api
        if self.config.link_listen:
            link = self._server(self.config.link_listen, self.config.link_tls)
        link_pb2_grpc.add_SidecarLinkServiceServicer_to_server(
            LinkServicer(
                control,
                sessions,
                engine,
                self.config.health_interval_seconds,
                lambda kind: metrics.link_messages.labels(kind).inc(),
                lambda reason: metrics.refused.labels("link", reason).inc(),
                gate=self.link_gate,
                max_rate=self.config.limits.max_link_messages_per_second,
            ),
            link.server,
        )
        self.port, self.link_port = api.port, link.port
        return [api] if link is api else [api, link]

    def _server(self, address: str, tls: TlsFiles) -> "_Listener":
        limit = self.config.limits.max_message_bytes
        # A port in use is an error, not a port quietly shared with another process.
        options = [("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)]
        server = grpc.aio.server(options=options)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        try:
            port = self._bind(server, address, tls)
        except RuntimeError:
            port = 0
        if not port:
            raise ConfigError(f"cannot listen on {address}: the port is in use or not this host's")
        return _Listener(server, health_servicer, port)

    def _bind(self, server: grpc.aio.Server, address: str, tls: TlsFiles) -> int:
        if not tls.enabled:
            return server.add_insecure_port(address)
        credentials, reloader = server_credentials(tls)
        self.reloaders.append(reloader)
        return server.add_secure_port(address, credentials)

    def _gate(self) -> Gate:
        read_only = self.tokens is None and self.config.api_tls.enabled
        if read_only:
            log.warning("TLS without API tokens: anonymous callers may read but change nothing")
        return Gate(self.tokens, read_only=read_only)

    def _metrics(self, metrics: ControlMetrics) -> None:
        if not self.config.metrics:
            return
        host, port = split_address(self.config.metrics, "metrics")
        httpd, _ = start_http_server(port, host, registry=metrics.registry)
        self.metrics_port = httpd.server_port

    async def _tick(self, control: Control, engine) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await loop.run_in_executor(engine, control.tick)
            except Exception:
                log.exception("control tick failed; retrying")


def _check_open_link(config: ControlConfig, gate: LinkGate) -> None:
    """An open link (no sidecar tokens, no mutual TLS) only on loopback, unless told."""
    address = config.link_listen or config.listen
    host, _ = split_address(address, "link_listen" if config.link_listen else "listen")
    if not gate.open or _loopback(host):
        return
    if not config.insecure_open_link:
        raise ConfigError(
            f"the sidecar link on {address} would let anyone who reaches it speak as any "
            "sidecar: issue sidecar tokens (token_file) or require certificates "
            "(link_client_ca_file), or set insecure_open_link: true"
        )
    log.warning("the sidecar link on %s is open to anyone who reaches it", address)


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def load_tokens(path: str, environ: Mapping[str, str]) -> TokenBook | None:
    """The token file and IMMUNE_API_TOKEN_* variables as a TokenBook; None when there are none."""
    try:
        book = parse_token_file(Path(path).read_text()) if path else TokenBook()
        from_environ(environ, book)
    except (OSError, InvalidArgument) as exc:
        raise ConfigError(f"tokens: {exc}") from None
    return book if (path or len(book)) else None
