"""How a client reaches control: address, TLS, token, identity, timeouts and retries."""

import dataclasses
from pathlib import Path

import grpc

ACTOR_KEY = "x-immune-actor"
DEFAULT_TARGET = "127.0.0.1:50051"


@dataclasses.dataclass(frozen=True)
class Options:
    """Connection options; every field has a working default for a local control."""

    target: str = DEFAULT_TARGET
    # Who is acting, recorded in control's audit log with every change.
    actor: str = ""
    # Bearer token sent as `authorization` metadata (needs TLS unless the target is local).
    token: str = ""
    tls: bool = False
    # PEM files; without a CA file the system roots are used.
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    timeout_seconds: float = 10.0
    # Extra attempts on a retryable status, with exponential backoff from backoff_seconds.
    retries: int = 3
    backoff_seconds: float = 0.2

    def credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials from the PEM files, or None for plaintext."""
        if not self.tls:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file),
            private_key=_read(self.key_file),
            certificate_chain=_read(self.cert_file),
        )

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata sent with every call."""
        pairs = []
        if self.actor:
            pairs.append((ACTOR_KEY, self.actor))
        if self.token:
            pairs.append(("authorization", f"Bearer {self.token}"))
        return tuple(pairs)

    def delays(self) -> list[float]:
        """Seconds to wait before each retry."""
        return [self.backoff_seconds * 2**n for n in range(self.retries)]


def _read(path: str) -> bytes | None:
    return Path(path).read_bytes() if path else None
