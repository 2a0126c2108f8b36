"""OTLP metrics receivers (gRPC and HTTP) sharing one handler."""

from .errors import ErrorKind, ReceiveError
from .grpc_server import GrpcReceiver
from .handler import Consumer, Export, Handler, Limits, Partial
from .http_server import http_receiver

__all__ = [
    "Consumer",
    "ErrorKind",
    "Export",
    "GrpcReceiver",
    "Handler",
    "Limits",
    "Partial",
    "ReceiveError",
    "http_receiver",
]
