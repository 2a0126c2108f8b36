"""Who may call what: bearer tokens mapped to roles, and the permission each RPC needs.

Tokens are kept only as SHA-256 hashes, one per line of a token file::

    # name        role        sha256 of the token
    ci-bot        automation  9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    dana          operator    60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
    checkout-*    sidecar     2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae

or, for one token, ``IMMUNE_API_TOKEN_<NAME>=<role>:<token>`` in control's environment
(read by ``from_environ``, never by a constructor). Tokens are random and long,
so one hash round is enough; looking a token up by its hash reveals nothing
about the token through timing.

A ``sidecar`` token opens the sidecar link only, never the API, and only as
the sidecar id its name gives: ``checkout-7f9c`` exactly, or with a trailing
``*`` any id that starts so (``checkout-*``: the pods of one Deployment, which
share one Secret and so trust each other).
"""

import dataclasses
import hashlib
import secrets
from collections.abc import Iterable, Mapping

from .errors import ControlError, InvalidArgument

VIEWER, OPERATOR, AUTOMATION, ADMIN = "viewer", "operator", "automation", "admin"
SIDECAR = "sidecar"
ROLES = (VIEWER, OPERATOR, AUTOMATION, ADMIN, SIDECAR)
READ, DECIDE, CONFIGURE = "read", "decide", "configure"
GRANTS = {
    VIEWER: frozenset({READ}),
    OPERATOR: frozenset({READ, DECIDE}),
    AUTOMATION: frozenset({READ, DECIDE}),
    ADMIN: frozenset({READ, DECIDE, CONFIGURE}),
    SIDECAR: frozenset(),  # the link only
}
# Every ControlService RPC; a test fails when the service gains one that is not here.
NEEDS = {
    "ListAgents": READ,
    "GetAgent": READ,
    "ListIncidents": READ,
    "GetIncident": READ,
    "GetHealingLog": READ,
    "GetImmuneMemory": READ,
    "ListPolicies": READ,
    "GetStats": READ,
    "ListAuditEntries": READ,
    "WatchEvents": READ,
    "GetCaller": READ,
    "ApproveHealing": DECIDE,
    "RejectHealing": DECIDE,
    "HealNow": DECIDE,
    "ApproveAll": DECIDE,
    "RejectAll": DECIDE,
    "HealAll": DECIDE,
    "RecordFeedback": DECIDE,
    "UpsertPolicy": CONFIGURE,
}
ENV_PREFIX = "IMMUNE_API_TOKEN_"
AUTHORIZATION_KEY = "authorization"


class Unauthenticated(ControlError):
    """No credentials, or credentials nobody issued."""

    code = "UNAUTHENTICATED"


class PermissionDenied(ControlError):
    """Known caller, not allowed to do this."""

    code = "PERMISSION_DENIED"


@dataclasses.dataclass(frozen=True)
class Principal:
    """A known caller: a name for the audit log and a role for permissions."""

    name: str
    role: str

    def may_link_as(self, sidecar_id: str) -> bool:
        """Whether this principal may open the sidecar link as ``sidecar_id``."""
        if self.role != SIDECAR:
            return False
        if self.name.endswith("*"):
            return sidecar_id.startswith(self.name[:-1])
        return sidecar_id == self.name


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as the token file stores it."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token."""
    return "imm_" + secrets.token_urlsafe(32)


class TokenBook:
    """Issued tokens by hash; answers who a bearer token belongs to."""

    def __init__(self, entries: Iterable[tuple[str, str, str]] = ()) -> None:
        self._by_hash: dict[str, Principal] = {}
        for name, role, digest in entries:
            self.add(name, role, digest)

    def __len__(self) -> int:
        return len(self._by_hash)

    def add(self, name: str, role: str, digest: str) -> None:
        """Issue the token with this hash to ``name`` in ``role``."""
        if role not in ROLES:
            raise InvalidArgument(f"token of {name!r}: role {role!r} is not one of {ROLES}")
        if "*" in name.rstrip("*") or (name.endswith("*") and role != SIDECAR):
            raise InvalidArgument(f"token of {name!r}: only a sidecar token may end in '*'")
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InvalidArgument(f"token of {name!r}: expected a hex SHA-256, got {digest!r}")
        self._by_hash[digest] = Principal(name, role)

    def identify(self, token: str) -> Principal:
        """The owner of ``token``; Unauthenticated for none or an unknown one."""
        if not token:
            raise Unauthenticated("no bearer token: send 'authorization: Bearer <token>'")
        principal = self._by_hash.get(hash_token(token))
        if principal is None:
            raise Unauthenticated("unknown bearer token: ask an admin for one")
        return principal


def bearer(metadata: Iterable[tuple[str, str]]) -> str:
    """The bearer token of a call's metadata ('' without one); two headers are refused."""
    headers = [value for key, value in metadata if key == AUTHORIZATION_KEY]
    if len(headers) > 1:
        raise Unauthenticated("more than one authorization header: send exactly one")
    if not headers:
        return ""
    scheme, _, token = headers[0].partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthenticated(f"authorization scheme {scheme[:20]!r} is not 'Bearer'")
    return token.strip()


def authorize(principal: Principal, method: str) -> None:
    """Raise PermissionDenied unless ``principal``'s role may call ``method``."""
    need = NEEDS.get(method)
    if need is None:
        raise PermissionDenied(f"{method} is not an API method anyone may call")
    if need not in GRANTS[principal.role]:
        allowed = [role for role in ROLES if need in GRANTS[role]]
        raise PermissionDenied(
            f"{principal.name} ({principal.role}) may not call {method}; it needs one of {allowed}"
        )


def parse_token_file(text: str) -> TokenBook:
    """A token file's lines (name, role, hash; '#' starts a comment) as a TokenBook."""
    book = TokenBook()
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 3:
            raise InvalidArgument(f"token file line {number}: expected 'name role sha256'")
        book.add(*fields)
    return book


def from_environ(environ: Mapping[str, str], book: TokenBook | None = None) -> TokenBook:
    """Add ``IMMUNE_API_TOKEN_<NAME>=<role>:<token>`` variables to ``book`` (or a new one)."""
    book = TokenBook() if book is None else book  # an empty book is falsy
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        role, sep, token = value.partition(":")
        if not sep or not token:
            raise InvalidArgument(f"{key}: expected '<role>:<token>'")
        book.add(key.removeprefix(ENV_PREFIX).lower(), role, hash_token(token))
    return book
