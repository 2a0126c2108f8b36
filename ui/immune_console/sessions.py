"""Who is signed in to the console: operators sign in with their own API token.

The console acts with the signed-in operator's token, so control enforces
their role and its audit log names them, not the console. Sessions live in
this process's memory only (never on disk), keyed by the browser's signed
session cookie, and end on sign-out or after ``ttl_seconds``.
"""

import dataclasses
import secrets
import time
from collections.abc import Callable

from immune_sdk import AsyncClient, ImmuneError, Options, names

DECIDING_ROLES = frozenset({"operator", "automation", "admin"})


@dataclasses.dataclass(frozen=True)
class Session:
    """One signed-in operator."""

    actor: str
    role: str
    client: AsyncClient
    expires_at: float

    @property
    def may_decide(self) -> bool:
        """Whether the role may approve, reject and heal."""
        return self.role in DECIDING_ROLES


class SignInError(Exception):
    """A token control does not accept, or control unreachable; the message says which."""


class Sessions:
    """The console's signed-in operators, by browser session id."""

    def __init__(
        self, control: Options, ttl_seconds: float, clock: Callable[[], float] = time.time
    ):
        self._control, self._ttl, self._clock = control, ttl_seconds, clock
        self._by_browser: dict[str, Session] = {}

    def get(self, browser_id: str) -> Session | None:
        """The browser's live session, or None (an expired one is closed)."""
        session = self._by_browser.get(browser_id)
        if session is not None and session.expires_at <= self._clock():
            self._by_browser.pop(browser_id, None)
            return None
        return session

    async def sign_in(self, browser_id: str, token: str) -> Session:
        """Check ``token`` with control and open a session; raises SignInError."""
        token = token.strip()
        if not token:
            raise SignInError("enter your API token (immunectl token NAME ROLE makes one)")
        client = AsyncClient(dataclasses.replace(self._control, token=token, actor=""))
        try:
            caller = await client.caller()
        except ImmuneError as exc:
            await client.close()
            raise SignInError(_refusal(exc)) from None
        role = names.name(names.ROLE, caller.role) or "viewer"
        session = Session(caller.actor, role, client, self._clock() + self._ttl)
        await self.sign_out(browser_id)
        self._by_browser[browser_id] = session
        return session

    async def sign_out(self, browser_id: str) -> None:
        """End the browser's session, if any."""
        session = self._by_browser.pop(browser_id, None)
        if session is not None:
            await session.client.close()


def new_browser_secret() -> str:
    """A secret for signing session cookies, new for each console process."""
    return secrets.token_urlsafe(32)


def _refusal(exc: ImmuneError) -> str:
    if exc.code.name == "UNAUTHENTICATED":
        return "control does not know this token"
    return f"control refused ({exc.code.name}): {exc.message}"
