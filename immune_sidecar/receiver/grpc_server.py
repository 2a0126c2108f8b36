"""OTLP/gRPC: ``Export`` of the metrics, trace and logs services, through the shared handler."""

import functools
import logging
from concurrent import futures

import grpc

from .codec import PROTOBUF
from .errors import GRPC_CODES, ReceiveError, retry_info, status_proto
from .handler import Handler
from .signals import SIGNALS, Signal, partial_response

log = logging.getLogger(__name__)
# gRPC refuses far larger messages itself; ours are measured and counted by the handler.
HEADROOM_BYTES = 1024 * 1024


class GrpcReceiver:
    """A gRPC server whose only method hands raw request bytes to the handler."""

    def __init__(self, handler: Handler, address: str) -> None:
        self._handler = handler
        limit = handler.limits.max_message_bytes + HEADROOM_BYTES
        workers = handler.limits.max_in_flight + 4
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
            # A port in use is an error, not a port quietly shared with another process.
            options=[("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)],
        )
        self._server.add_generic_rpc_handlers(
            tuple(
                grpc.method_handlers_generic_handler(
                    signal.service,
                    {"Export": grpc.unary_unary_rpc_method_handler(
                        functools.partial(self._export, signal))},
                )
                for signal in SIGNALS
            )
        )  # fmt: skip
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError:
            self.port = 0
        if not self.port:
            raise OSError(f"cannot listen on {address}: the port is in use or not this host's")
        self.address = address

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def stop(self, grace: float = 2.0) -> None:
        """Stop, letting in-flight exports finish for ``grace`` seconds."""
        self._server.stop(grace).wait()

    def _export(self, signal: Signal, body: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            partial = self._handler.handle(body, PROTOBUF, "grpc", signal=signal)
        except ReceiveError as exc:
            _abort(context, exc)
        return partial_response(signal, partial.rejected, partial.message).SerializeToString()


def _abort(context: grpc.ServicerContext, error: ReceiveError) -> None:
    metadata = [("grpc-status-details-bin", status_proto(error).SerializeToString())]
    if error.kind.retryable:
        # The OpenTelemetry Python exporter reads this key rather than the status details.
        info = retry_info(error.retry_after).SerializeToString()
        metadata.append(("google.rpc.retryinfo-bin", info))
    context.set_trailing_metadata(metadata)
    context.abort(GRPC_CODES[error.kind], error.message)
