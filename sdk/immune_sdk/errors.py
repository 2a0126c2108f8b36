"""Errors the client raises: one class per status code a caller may want to catch."""

import grpc


class ImmuneError(Exception):
    """A call to control failed; ``code`` is the gRPC status, ``message`` what control said."""

    def __init__(self, code: grpc.StatusCode, message: str, method: str = "") -> None:
        self.code, self.message, self.method = code, message, method
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{code.name}: {message}")


class InvalidArgument(ImmuneError):
    """The request was malformed (fix it; retrying will not help)."""


class NotFound(ImmuneError):
    """No such agent, incident or policy."""


class FailedPrecondition(ImmuneError):
    """The incident is not in a state that allows this (e.g. approved twice)."""


class Unauthenticated(ImmuneError):
    """No valid credentials were sent."""


class PermissionDenied(ImmuneError):
    """The credentials lack the role this call needs."""


class Unavailable(ImmuneError):
    """Control could not be reached, or could not store the change; safe to retry."""


class DeadlineExceeded(ImmuneError):
    """No answer within the timeout."""


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def from_rpc_error(exc: grpc.RpcError, method: str = "") -> ImmuneError:
    """The ImmuneError subclass for a failed call."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
    return _BY_CODE.get(code, ImmuneError)(code, details or "", method)
