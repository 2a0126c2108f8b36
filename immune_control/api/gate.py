"""The API's door: who is calling (bearer token → principal) and whether they may.

With no tokens configured the door is open: the caller names itself in
``x-immune-actor`` and acts as an operator, or may only read when the door
is ``read_only`` (TLS without tokens: reachable from elsewhere, nobody known).
"""

from ..access import VIEWER, Principal, TokenBook, Unauthenticated, authorize
from ..control import Caller

ACTOR_KEY = "x-immune-actor"
AUTHORIZATION_KEY = "authorization"


class Gate:
    """Authenticates and authorizes each call against a TokenBook (None: open)."""

    def __init__(self, tokens: TokenBook | None = None, read_only: bool = False) -> None:
        self._tokens = tokens
        self._read_only = read_only

    def check(self, context, method: str) -> Caller:
        """The caller of ``method``; Unauthenticated or PermissionDenied when refused."""
        metadata = dict(context.invocation_metadata() or ())
        if self._tokens is None and not self._read_only:
            return Caller(metadata.get(ACTOR_KEY) or "anonymous")
        if self._tokens is None:
            principal = Principal(metadata.get(ACTOR_KEY) or "anonymous", VIEWER)
        else:
            principal = self._identify(metadata.get(AUTHORIZATION_KEY, ""))
        authorize(principal, method)
        return Caller(principal.name, principal.role)

    def _identify(self, header: str) -> Principal:
        scheme, _, token = header.partition(" ")
        if header and scheme.lower() != "bearer":
            raise Unauthenticated(f"authorization scheme {scheme!r} is not 'Bearer'")
        return self._tokens.identify(token.strip())
