"""Why an export is refused as a whole: one classification, mapped by each transport."""

import enum

import grpc
from google.rpc import error_details_pb2, status_pb2


class ErrorKind(enum.Enum):
    """Every way an export can fail, classified once."""

    MALFORMED = "malformed"  # permanent: do not retry
    UNSUPPORTED_MEDIA = "unsupported_media"  # permanent
    TOO_LARGE = "too_large"  # permanent: do not retry the same message
    OVERLOADED = "overloaded"  # retryable, after retry_after seconds
    RATE_LIMITED = "rate_limited"  # retryable, after retry_after seconds

    @property
    def retryable(self) -> bool:
        """Whether the client should send the same export again after ``retry_after``."""
        return self in (ErrorKind.OVERLOADED, ErrorKind.RATE_LIMITED)


class ReceiveError(Exception):
    """An export refused as a whole."""

    def __init__(self, kind: ErrorKind, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.kind, self.message, self.retry_after = kind, message, retry_after


def too_large(size: int, limit: int) -> ReceiveError:
    """The error for a message past the size limit."""
    return ReceiveError(
        ErrorKind.TOO_LARGE,
        f"message of {size} bytes exceeds the limit of {limit} bytes (after decompression); "
        "send smaller batches",
    )


def malformed(message: str) -> ReceiveError:
    """A permanent error for a payload that cannot be parsed."""
    return ReceiveError(ErrorKind.MALFORMED, message)


GRPC_CODES = {
    ErrorKind.MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.UNSUPPORTED_MEDIA: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorKind.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorKind.OVERLOADED: grpc.StatusCode.UNAVAILABLE,
    ErrorKind.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def status_proto(error: ReceiveError) -> status_pb2.Status:
    """The ``google.rpc.Status`` of an error; a retryable one carries ``RetryInfo``."""
    status = status_pb2.Status(code=GRPC_CODES[error.kind].value[0], message=error.message)
    if error.kind.retryable:
        status.details.add().Pack(retry_info(error.retry_after))
    return status


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    """A ``RetryInfo`` asking the client to wait ``seconds``."""
    info = error_details_pb2.RetryInfo()
    info.retry_delay.FromNanoseconds(int(seconds * 1e9))
    return info
