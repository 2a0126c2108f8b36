"""Domain errors, each mapped to one gRPC status code by the API adapter."""


class ControlError(Exception):
    """Base of the errors a caller can act on."""


class NotFound(ControlError):
    """The named incident, agent or policy does not exist."""


class FailedPrecondition(ControlError):
    """The target exists but is not in a state that allows the call."""


class InvalidArgument(ControlError):
    """The request itself is malformed."""


def code_name(exc: Exception) -> str:
    """The gRPC status code name an error maps to (for the audit log)."""
    if isinstance(exc, NotFound):
        return "NOT_FOUND"
    if isinstance(exc, FailedPrecondition):
        return "FAILED_PRECONDITION"
    if isinstance(exc, InvalidArgument):
        return "INVALID_ARGUMENT"
    return "UNAVAILABLE"
