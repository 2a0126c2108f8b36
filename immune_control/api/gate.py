"""The API's door: who is calling (bearer token → principal) and whether they may.

With no tokens configured the door is open: the caller names itself in
``x-immune-actor`` and acts as an operator, or may only read when the door
is ``read_only`` (TLS without tokens: reachable from elsewhere, nobody known).
"""

from ..access import VIEWER, Principal, TokenBook, authorize, bearer
from ..errors import ControlError, InvalidArgument
from .decisions import Caller

ACTOR_KEY = "x-immune-actor"
MAX_ACTOR_CHARS = 128


class Gate:
    """Authenticates and authorizes each call against a TokenBook (None: open)."""

    def __init__(self, tokens: TokenBook | None = None, read_only: bool = False) -> None:
        self._tokens = tokens
        self._read_only = read_only

    def check(self, context, method: str) -> Caller:
        """The caller of ``method``; Unauthenticated or PermissionDenied when refused."""
        metadata = list(context.invocation_metadata() or ())
        if self._tokens is None and not self._read_only:
            return Caller(_actor(metadata))
        principal = self._principal(metadata)
        authorize(principal, method)
        return Caller(principal.name, principal.role)

    def who(self, context) -> str:
        """The caller's name as far as it can be told ('unknown caller' otherwise)."""
        try:
            return self._principal(list(context.invocation_metadata() or ())).name
        except ControlError:
            return "unknown caller"

    def _principal(self, metadata: list[tuple[str, str]]) -> Principal:
        if self._tokens is None:
            return Principal(_actor(metadata), VIEWER)
        return self._tokens.identify(bearer(metadata))


def _actor(metadata: list[tuple[str, str]]) -> str:
    """The self-named caller of an open API ('anonymous' when unnamed)."""
    actor = dict(metadata).get(ACTOR_KEY, "").strip()
    if len(actor) > MAX_ACTOR_CHARS or not actor.isprintable():
        raise InvalidArgument(
            f"{ACTOR_KEY}: at most {MAX_ACTOR_CHARS} printable characters (got {len(actor)})"
        )
    return actor or "anonymous"
