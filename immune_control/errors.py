"""Domain errors; each class names its gRPC status code once, for the API and the audit log."""


class ControlError(Exception):
    """Base of the errors a caller can act on."""

    code = "UNAVAILABLE"


class NotFound(ControlError):
    """The named incident, agent or policy does not exist."""

    code = "NOT_FOUND"


class FailedPrecondition(ControlError):
    """The target exists but is not in a state that allows the call."""

    code = "FAILED_PRECONDITION"


class IllegalTransition(FailedPrecondition):
    """A move the incident lifecycle does not allow (DESIGN §5)."""


class InvalidArgument(ControlError):
    """The request itself is malformed."""

    code = "INVALID_ARGUMENT"


class LimitExceeded(InvalidArgument):
    """The request is beyond a configured limit, which ``limit`` names."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit
