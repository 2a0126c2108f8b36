"""Control's configuration: flags, ``IMMUNE_*`` variables and the YAML file."""

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import ClassVar

from immune_common import config
from immune_common.config import Range
from immune_common.tls import TlsFiles

from .errors import InvalidArgument
from .fleet import FleetSettings
from .policies import validate

EXPIRY_OUTCOMES = ("reject", "approve")


@dataclasses.dataclass(frozen=True)
class ApprovalSettings:
    """Which infections wait for a human, and for how long."""

    # Severity (0–10) at or above which healing waits for ApproveHealing.
    threshold: float = 7.0
    ttl_seconds: float = 900.0
    # What an expired approval turns into: "reject" (stays quarantined) or "approve".
    on_expiry: str = "reject"

    RANGES: ClassVar[dict[str, Range]] = {
        "threshold": (0.0, 11.0),  # 11: never ask (severity is at most 10)
        "ttl_seconds": (1.0, 31_536_000.0),
    }

    def __post_init__(self) -> None:
        config.check_ranges(self, "approval.")
        if self.on_expiry not in EXPIRY_OUTCOMES:
            raise config.ConfigError(
                f"approval.on_expiry: expected one of {EXPIRY_OUTCOMES}, got {self.on_expiry!r}"
            )
        if self.ttl_seconds <= 0:
            raise config.ConfigError("approval.ttl_seconds: must be positive")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on API calls and on what sidecars may send."""

    # Reasons go to the audit log and the timeline; beyond this a call is INVALID_ARGUMENT.
    max_reason_chars: int = 1000
    # A bulk call acts on at most this many incidents (the rest wait for the next call),
    # and may name at most this many agents.
    max_bulk: int = 5000
    # One gRPC message on the API or the link; beyond it, RESOURCE_EXHAUSTED.
    max_message_bytes: int = 16 * 1024 * 1024
    # Messages per second one sidecar may send; beyond it its stream is slowed, nothing dropped.
    max_link_messages_per_second: float = 1000.0

    RANGES: ClassVar[dict[str, Range]] = {
        "max_reason_chars": (1, 100_000),
        "max_bulk": (1, 1_000_000),
        "max_message_bytes": (64 * 1024, (1 << 31) - 1),  # gRPC's own limit is an int32
        "max_link_messages_per_second": (1.0, 1e7),
    }

    def __post_init__(self) -> None:
        config.check_ranges(self, "limits.")


@dataclasses.dataclass(frozen=True)
class HealingSettings:
    """How healing actions are driven and verified."""

    action_timeout_seconds: float = 30.0
    probation_samples: int = 3
    probation_timeout_seconds: float = 300.0
    # Automatic actions (not approved by a human) per agent per hour.
    max_auto_attempts_per_hour: int = 6
    dry_run: bool = False

    RANGES: ClassVar[dict[str, Range]] = {
        "action_timeout_seconds": (0.1, 86_400.0),
        "probation_samples": (1, 10_000),
        "probation_timeout_seconds": (1.0, 31_536_000.0),
        "max_auto_attempts_per_hour": (0, 10_000),
    }

    def __post_init__(self) -> None:
        config.check_ranges(self, "healing.")


@dataclasses.dataclass(frozen=True)
class ControlConfig:
    """Everything ``immune-control`` can be told."""

    listen: str = "127.0.0.1:50051"
    metrics: str = "127.0.0.1:9465"
    data_dir: str = "./immune-data"
    db: str = ""
    config: str = ""
    # A sidecar silent this long makes its agents unreachable.
    sidecar_silence_seconds: float = 30.0
    health_interval_seconds: float = 10.0
    approval: ApprovalSettings = dataclasses.field(default_factory=ApprovalSettings)
    healing: HealingSettings = dataclasses.field(default_factory=HealingSettings)
    limits: Limits = dataclasses.field(default_factory=Limits)
    fleet: FleetSettings = dataclasses.field(default_factory=FleetSettings)
    policies: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # Hashed bearer tokens (see immune_control.access); with none here or in
    # IMMUNE_API_TOKEN_* variables, the API is open.
    token_file: str = ""
    # TLS on the API (and on the link, unless it has its own listener); PEM files,
    # re-read when they change. With TLS and no tokens, anonymous callers may only read.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    # The sidecar link's own listener, which mutual TLS needs (clients of the API
    # present no certificate); empty serves the link beside the API.
    link_listen: str = ""
    link_cert_file: str = ""
    link_key_file: str = ""
    # Sidecars must present a certificate from this CA whose name is their sidecar id.
    link_client_ca_file: str = ""
    # Serve the link beyond loopback with no credential at all (a trusted network only).
    insecure_open_link: bool = False
    log_level: str = "info"
    log_format: str = "text"

    RANGES: ClassVar[dict[str, Range]] = {
        "sidecar_silence_seconds": (1.0, 31_536_000.0),
        "health_interval_seconds": (0.05, 3600.0),
    }

    def __post_init__(self) -> None:
        config.check_ranges(self)
        config.check_logging(self.log_level, self.log_format)
        config.split_address(self.listen, "listen")
        if self.metrics:
            config.split_address(self.metrics, "metrics")
        if self.link_listen:
            config.split_address(self.link_listen, "link_listen")
        self.api_tls, self.link_tls  # noqa: B018 - building them validates the TLS settings
        if self.link_client_ca_file and not self.link_listen:
            raise config.ConfigError(
                "link_client_ca_file: mutual TLS needs the link on its own listener; "
                "set link_listen"
            )
        for diagnosis, actions in self.policies.items():
            try:
                validate(diagnosis, actions)
            except InvalidArgument as exc:
                raise config.ConfigError(f"policies.{diagnosis}: {exc}") from exc

    @property
    def api_tls(self) -> TlsFiles:
        """The API listener's TLS files."""
        return TlsFiles(self.tls_cert_file, self.tls_key_file)

    @property
    def link_tls(self) -> TlsFiles:
        """The link listener's TLS files (the API's certificate unless it has its own)."""
        if not self.link_listen:
            return self.api_tls
        return TlsFiles(
            self.link_cert_file or self.tls_cert_file,
            self.link_key_file or self.tls_key_file,
            self.link_client_ca_file,
        )

    @property
    def db_path(self) -> str:
        """The DuckDB file: ``db`` when set, else ``immune.duckdb`` in the data dir."""
        return self.db or f"{self.data_dir.rstrip('/')}/immune.duckdb"


def parser() -> argparse.ArgumentParser:
    """The command-line flags; each is also IMMUNE_<NAME> and a YAML key."""
    p = argparse.ArgumentParser(
        prog="immune-control",
        description="Immune's control service: incidents, diagnosis, approvals, healing "
        "and immune memory for a fleet of agents, on DuckDB.",
        epilog="Every flag is also an IMMUNE_<FLAG> environment variable and a key in the "
        "--config YAML file (which also holds approval, healing, fleet and policies); flags "
        "win over the environment, which wins over the file.",
    )
    flag = p.add_argument
    flag("--listen", metavar="HOST:PORT", help="gRPC API and sidecar link (127.0.0.1:50051)")
    flag("--db", metavar="FILE", help="DuckDB file (DATA_DIR/immune.duckdb)")
    flag("--data-dir", metavar="DIR", help="where the database lives by default")
    flag("--metrics", metavar="HOST:PORT", help="Prometheus /metrics (127.0.0.1:9465)")
    flag("--config", metavar="FILE", help="YAML file with any of these keys and more")
    flag("--token-file", metavar="FILE", help="hashed bearer tokens: 'name role sha256' lines")
    flag("--tls-cert-file", metavar="PEM", help="serve the API over TLS with this certificate")
    flag("--tls-key-file", metavar="PEM", help="the TLS certificate's private key")
    flag("--link-listen", metavar="HOST:PORT", help="a listener of its own for the sidecar link")
    flag("--link-cert-file", metavar="PEM", help="the link's certificate (the API's by default)")
    flag("--link-key-file", metavar="PEM", help="the link certificate's private key")
    flag(
        "--link-client-ca-file",
        metavar="PEM",
        help="require sidecars to present a certificate from this CA (mutual TLS)",
    )
    flag("--log-level", choices=("debug", "info", "warning", "error"))
    flag("--log-format", choices=("text", "json"))
    return p


def from_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> ControlConfig:
    """Parse flags (exits 2 on a bad one) and load the config; raises ConfigError."""
    args = vars(parser().parse_args(argv))
    yaml_path = args.get("config") or env.get(config.ENV_PREFIX + "CONFIG")
    return config.load(ControlConfig, flags=args, env=env, yaml_path=yaml_path)
