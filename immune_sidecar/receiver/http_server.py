"""OTLP/HTTP: ``POST /v1/metrics``, ``/v1/traces`` and ``/v1/logs`` in protobuf or JSON,
gzip or not, via the shared handler."""

import math

from google.protobuf import json_format

from immune_common.httpserve import BackgroundServer, HTTPStatus, QuietHandler

from .codec import JSON, PROTOBUF
from .errors import ErrorKind, ReceiveError, status_proto, too_large
from .handler import Handler, Partial
from .signals import BY_PATH, METRICS, Signal, partial_response

PATH = METRICS.path
PATHS = " or ".join(f"POST {p}" for p in BY_PATH)
MAX_LINE = 1024  # a chunk-size or trailer line
MEDIA_TYPES = {"application/x-protobuf": PROTOBUF, "application/json": JSON}
HTTP_STATUS = {
    ErrorKind.MALFORMED: HTTPStatus.BAD_REQUEST,
    ErrorKind.UNSUPPORTED_MEDIA: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    ErrorKind.TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ErrorKind.OVERLOADED: HTTPStatus.SERVICE_UNAVAILABLE,
    ErrorKind.RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
}


def http_receiver(handler: Handler, host: str, port: int) -> BackgroundServer:
    """The OTLP/HTTP server, not yet started."""
    request_handler = type("OtlpRequestHandler", (_OtlpRequestHandler,), {"otlp": handler})
    return BackgroundServer(request_handler, host, port, "otlp-http")


class _OtlpRequestHandler(QuietHandler):
    otlp: Handler
    _signal: Signal = METRICS

    def do_POST(self) -> None:
        signal = BY_PATH.get(self.path.split("?")[0])
        if signal is None:
            self.close_connection = True
            message = f"OTLP is received at {PATHS}"
            self.reply_json(HTTPStatus.NOT_FOUND, {"message": message})
            return
        self._signal = signal  # whose counters this request's refusals go to
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        encoding = MEDIA_TYPES.get(media, JSON)  # errors about an unknown type come as JSON
        try:
            body, gzipped = self._read(media)
            partial = self.otlp.handle(body, encoding, "http", gzipped, signal)
        except ReceiveError as exc:
            self._error(exc, encoding)
            return
        self._reply(HTTPStatus.OK, _response(signal, partial, encoding), encoding)

    def do_GET(self) -> None:
        self.reply_json(HTTPStatus.METHOD_NOT_ALLOWED, {"message": f"use {PATHS}"})

    def _read(self, media: str) -> tuple[bytes, bool]:
        body = self._chunked() if self.headers.get("Transfer-Encoding") else self._sized()
        if media not in MEDIA_TYPES:
            supported = " or ".join(MEDIA_TYPES)
            message = f"Content-Type {media or '(none)'} is not supported; use {supported}"
            raise self._refused(ErrorKind.UNSUPPORTED_MEDIA, message)
        compression = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if compression not in ("gzip", "identity"):
            message = f"Content-Encoding {compression} is not supported; use gzip or none"
            raise self._refused(ErrorKind.UNSUPPORTED_MEDIA, message)
        return body, compression == "gzip"

    def _sized(self) -> bytes:
        """A body of Content-Length bytes (one length; conflicting ones desync a connection)."""
        lengths = set(self.headers.get_all("Content-Length") or ["0"])
        length = _byte_count(lengths.pop()) if len(lengths) == 1 else -1
        if length < 0:
            self.close_connection = True
            raise self._refused(ErrorKind.MALFORMED, "Content-Length must be one byte count")
        self._within_limit(length)
        return self.rfile.read(length)

    def _chunked(self) -> bytes:
        """A chunked body, read as it comes and refused once past the size limit."""
        self.close_connection = True  # unless read to its end below
        codings = self.headers.get("Transfer-Encoding", "").lower().replace(" ", "")
        if codings != "chunked" or self.headers.get("Content-Length"):
            message = "Transfer-Encoding: only chunked, and never with Content-Length"
            raise self._refused(ErrorKind.MALFORMED, message)
        body = bytearray()
        while size := self._chunk_size():
            self._within_limit(len(body) + size)
            body += self.rfile.read(size)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise self._refused(ErrorKind.MALFORMED, "a chunk must end with CRLF")
        while self.rfile.readline(MAX_LINE).strip():  # trailer fields, ignored
            pass
        self.close_connection = False
        return bytes(body)

    def _chunk_size(self) -> int:
        line = self.rfile.readline(MAX_LINE)
        size = _byte_count(line.split(b";")[0].strip(), base=16)
        if size < 0:
            raise self._refused(ErrorKind.MALFORMED, "a chunk must start with its size in hex")
        return size

    def _within_limit(self, length: int) -> None:
        limit = self.otlp.limits.max_message_bytes
        if length > limit:
            self.close_connection = True  # the body stays unread
            raise self.otlp.refused("http", too_large(length, limit), self._signal)

    def _refused(self, kind: ErrorKind, message: str) -> ReceiveError:
        return self.otlp.refused("http", ReceiveError(kind, message), self._signal)

    def _error(self, error: ReceiveError, encoding: str) -> None:
        status = status_proto(error)
        body = _encode(status, encoding)
        headers = {}
        if error.kind.retryable:
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        self._reply(HTTP_STATUS[error.kind], body, encoding, headers)

    def _reply(self, status: int, body: bytes, encoding: str, headers: dict | None = None):
        content_type = "application/json" if encoding == JSON else "application/x-protobuf"
        self.reply(status, body, content_type, headers)


def _byte_count(text: str | bytes, base: int = 10) -> int:
    """A non-negative count from a header or chunk line; -1 when it is not one."""
    digits = text.decode("ascii", "replace") if isinstance(text, bytes) else text.strip()
    ok = digits.isascii() and digits.isalnum() and len(digits) <= 16 and "_" not in digits
    try:
        return int(digits, base) if ok else -1
    except ValueError:
        return -1


def _response(signal: Signal, partial: Partial, encoding: str) -> bytes:
    return _encode(partial_response(signal, partial.rejected, partial.message), encoding)


def _encode(message, encoding: str) -> bytes:
    if encoding == JSON:
        return json_format.MessageToJson(message, indent=None).encode()
    return message.SerializeToString()
