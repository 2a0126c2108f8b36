"""The console's settings; importing them does not load the web framework."""

import dataclasses

from immune_sdk import Options

from .feed import FeedSettings


@dataclasses.dataclass(frozen=True)
class ConsoleConfig:
    """Where control is, who the operator is, where the console listens."""

    control: Options
    host: str = "127.0.0.1"
    port: int = 8090
    feed: FeedSettings = dataclasses.field(default_factory=FeedSettings)
    # How long a page survives a lost socket (a busy server, a flaky network) before it
    # is reloaded from scratch, dropping whatever the operator was doing.
    reconnect_seconds: float = 30.0
    # Operators sign in with their own API token; the console then acts as them.
    login: bool = False
    session_seconds: float = 12 * 3600
    # HTTPS for the console itself (PEM files, reloaded when they change).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # Host names browsers reach the console by (beside loopback's); empty: its listen
    # address's (any, when it listens on every address).
    allowed_hosts: tuple[str, ...] = ()
