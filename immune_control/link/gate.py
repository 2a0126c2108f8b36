"""The link's door: which credential may open the link as a sidecar id.

- Mutual TLS: the client certificate must name the sidecar id.
- Tokens configured: a ``sidecar`` token bound to the id (see ``access``);
  API tokens of other roles do not open the link.
- Neither: the link is open, which control allows only on a loopback listener
  (or when told ``insecure_open_link``); see ``ControlConfig``.

The identity returned names the credential, so a second session for a live
sidecar id can be told apart from a reconnect of the same one.
"""

from immune_common.tls import peer_names

from ..access import PermissionDenied, TokenBook, bearer

ANONYMOUS = "anonymous"


class LinkGate:
    """Authenticates a link's Hello against mutual TLS, sidecar tokens, or nothing."""

    def __init__(self, tokens: TokenBook | None, mutual: bool) -> None:
        self._tokens, self._mutual = tokens, mutual

    @property
    def open(self) -> bool:
        """Whether any caller may link (no certificates, no tokens)."""
        return not self._mutual and self._tokens is None

    def identify(self, context, sidecar_id: str) -> str:
        """The credential that proves ``sidecar_id``; Unauthenticated or PermissionDenied."""
        if self._mutual:
            return _certificate(peer_names(context), sidecar_id)
        if self._tokens is None:
            return ANONYMOUS
        principal = self._tokens.identify(bearer(context.invocation_metadata() or ()))
        if not principal.may_link_as(sidecar_id):
            raise PermissionDenied(
                f"the token of {principal.name} ({principal.role}) may not link as sidecar "
                f"{sidecar_id!r}; issue a sidecar token named after it "
                "('immunectl token NAME sidecar')"
            )
        return f"token {principal.name}"


def _certificate(names: frozenset[str], sidecar_id: str) -> str:
    if sidecar_id not in names:
        shown = ", ".join(sorted(names)) or "no certificate"
        raise PermissionDenied(
            f"the client certificate ({shown}) does not name sidecar {sidecar_id!r}; "
            "issue the sidecar a certificate whose common name is its sidecar id"
        )
    return f"certificate {sidecar_id}"
