"""Wires control together: DuckDB, the engine thread, gRPC (API, link, health, reflection)."""

import asyncio
import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from immune.v1 import control_pb2, control_pb2_grpc, link_pb2, link_pb2_grpc
from prometheus_client import CollectorRegistry, start_http_server

from immune_common.config import ConfigError, split_address

from .access import TokenBook, from_environ, parse_token_file
from .api.gate import Gate
from .api.servicer import ControlServicer
from .config import ControlConfig
from .control import Control
from .engine import Engine
from .errors import InvalidArgument
from .link.server import LinkServicer, Sessions
from .store import Database, Store
from .telemetry import ControlMetrics

log = logging.getLogger(__name__)
SERVICES = (
    control_pb2.DESCRIPTOR.services_by_name["ControlService"].full_name,
    link_pb2.DESCRIPTOR.services_by_name["SidecarLinkService"].full_name,
)
TICK_SECONDS = 0.25
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class ControlApp:
    """One control process; ``run`` serves until ``stop`` is called (from any thread)."""

    def __init__(self, config: ControlConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        # Only IMMUNE_API_TOKEN_* variables are read from here.
        self.tokens = load_tokens(config.token_file, environ or {})
        self.port = 0
        self.metrics_port = 0
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
        server, health_servicer = self._server(control, sessions, engine, reads, metrics)
        await server.start()
        for name in ("", *SERVICES):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._metrics(metrics)
        log.info(
            "control listening on %s:%d (database %s, schema v%d)",
            split_address(self.config.listen, "listen")[0],
            self.port,
            db.path,
            db.version,
        )
        self.ready.set()
        ticker = asyncio.ensure_future(self._tick(control, engine))
        await self._stop.wait()
        await health_servicer.enter_graceful_shutdown()
        ticker.cancel()
        await server.stop(grace=5)
        engine.shutdown(wait=True)
        reads.shutdown(wait=True)
        db.close()
        log.info("control stopped")

    def _server(self, control, sessions, engine, reads, metrics):
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]
        server = grpc.aio.server(options=options)
        control_pb2_grpc.add_ControlServiceServicer_to_server(
            ControlServicer(control, engine, reads, Gate(self.tokens)), server
        )
        link_pb2_grpc.add_SidecarLinkServiceServicer_to_server(
            LinkServicer(
                control,
                sessions,
                engine,
                self.config.health_interval_seconds,
                lambda kind: metrics.link_messages.labels(kind).inc(),
            ),
            server,
        )
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        self.port = server.add_insecure_port(self.config.listen)
        if not self.port:
            raise OSError(f"cannot listen on {self.config.listen}")
        return server, health_servicer

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


def load_tokens(path: str, environ: Mapping[str, str]) -> TokenBook | None:
    """The token file and IMMUNE_API_TOKEN_* variables as a TokenBook; None when there are none."""
    try:
        book = parse_token_file(Path(path).read_text()) if path else TokenBook()
        from_environ(environ, book)
    except (OSError, InvalidArgument) as exc:
        raise ConfigError(f"tokens: {exc}") from None
    return book if (path or len(book)) else None
