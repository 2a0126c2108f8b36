"""The sidecar's configuration: flags, ``IMMUNE_*`` variables and the YAML file."""

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from typing import ClassVar

from immune_common import config
from immune_common.config import Range

from .detect import BaselineSettings
from .gate.settings import GateSettings
from .quarantine import EjectionPolicy

ACTUATOR_KINDS = ("readiness", "webhook", "command", "kubernetes", "gate")
FORWARD_SCHEMES = ("grpc://", "http://", "https://")


@dataclasses.dataclass(frozen=True)
class ActuatorConfig:
    """One actuator: ``readiness``, ``webhook`` (url), ``command`` (argv), ``kubernetes``
    or ``gate`` (the egress gate; added by itself when the gate is configured).

    For ``kubernetes``, ``url`` is the API server (empty: the one the pod runs in),
    ``pod`` and ``namespace`` name the agent's pod (empty: this pod, from the
    downward API's POD_NAME and the service account's namespace).
    """

    kind: str = "readiness"
    url: str = ""
    command: tuple[str, ...] = ()
    pod: str = ""
    namespace: str = ""
    token_file: str = ""
    ca_file: str = ""
    timeout_seconds: float = 5.0
    retries: int = 2
    dry_run: bool = False

    RANGES: ClassVar[dict[str, Range]] = {
        "timeout_seconds": (0.01, 3600.0),
        "retries": (0, 100),
    }


@dataclasses.dataclass(frozen=True)
class SidecarConfig:
    """Everything ``immune-sidecar`` can be told."""

    otlp_grpc: str = "127.0.0.1:4317"
    otlp_http: str = "127.0.0.1:4318"
    admin: str = "127.0.0.1:9464"
    state_dir: str = ""
    config: str = ""
    forward: str = ""
    forward_queue: int = 1000
    forward_timeout_seconds: float = 5.0
    mapping: str = ""
    max_message_bytes: int = 4 * 1024 * 1024
    max_in_flight: int = 32
    retry_after_seconds: float = 1.0
    # OTLP exports per second this sidecar takes (0: no limit); beyond it, retry later.
    max_requests_per_second: float = 100.0
    max_agents: int = 10_000
    max_streams: int = 200_000
    stream_ttl_seconds: float = 900.0
    state_flush_seconds: float = 30.0
    # Which agent a point or span belongs to: the first of these keys with a value, on the
    # point and then its resource (a process running several agents: gen_ai.agent.name first).
    identity: tuple[str, ...] = ("service.instance.id", "k8s.pod.name", "service.name")
    # An agent that sends spans and no metrics gets a sample from its spans this often.
    span_interval_seconds: float = 60.0
    # The time one judged sample spans at least about: an agent exporting metrics more often
    # has its exports added up to it (0: every export is a sample; a demo compressing time).
    sample_seconds: float = 60.0
    detection: BaselineSettings = dataclasses.field(default_factory=BaselineSettings)
    ejection: EjectionPolicy = dataclasses.field(default_factory=EjectionPolicy)
    actuators: tuple[ActuatorConfig, ...] = (ActuatorConfig(),)
    # The egress gate: the agent's LLM and MCP calls through the sidecar (off without listen).
    gate: GateSettings = dataclasses.field(default_factory=GateSettings)
    # Control's link address (HOST:PORT); empty runs standalone.
    control: str = ""
    # TLS to control: its CA (empty: the system's roots, when control_tls is set) and,
    # for mutual TLS, this sidecar's certificate, whose common name is its sidecar id.
    control_tls: bool = False
    control_ca_file: str = ""
    control_cert_file: str = ""
    control_key_file: str = ""
    # A file holding this sidecar's link token (a 'sidecar' token in control's token
    # file, named after the sidecar id); re-read at every connect.
    control_token_file: str = ""
    # This sidecar's name on the link; empty uses the host name (the pod name in Kubernetes).
    sidecar_id: str = ""
    # Reports kept on disk while control is away; the oldest are dropped beyond this.
    link_buffer: int = 10_000
    link_backoff_seconds: float = 0.5
    link_max_backoff_seconds: float = 15.0
    log_level: str = "info"
    log_format: str = "text"

    RANGES: ClassVar[dict[str, Range]] = {
        "forward_queue": (1, 10_000_000),
        "forward_timeout_seconds": (0.01, 3600.0),
        "max_message_bytes": (1024, 1 << 30),
        "max_in_flight": (1, 10_000),
        "retry_after_seconds": (0.001, 3600.0),
        "max_requests_per_second": (0.0, 1e7),  # 0: no limit
        "max_agents": (1, 10_000_000),
        "max_streams": (1, 100_000_000),
        "stream_ttl_seconds": (1.0, 31_536_000.0),
        "state_flush_seconds": (1.0, 86_400.0),
        "span_interval_seconds": (1.0, 3600.0),
        "sample_seconds": (0.0, 3600.0),
        "link_buffer": (1, 10_000_000),
        "link_backoff_seconds": (0.05, 3600.0),
        "link_max_backoff_seconds": (0.05, 86_400.0),
    }

    def __post_init__(self) -> None:
        config.check_ranges(self)
        if not self.identity or not all(self.identity):
            raise config.ConfigError("identity: name at least one attribute key, none empty")
        config.check_logging(self.log_level, self.log_format)
        if self.link_max_backoff_seconds < self.link_backoff_seconds:
            raise config.ConfigError(
                "link_max_backoff_seconds: must be at least link_backoff_seconds"
            )
        if self.forward and not self.forward.startswith(FORWARD_SCHEMES):
            if "://" in self.forward:
                raise config.ConfigError(
                    f"forward: expected grpc://HOST:PORT, HOST:PORT or an http(s) URL, "
                    f"got {self.forward[:100]!r}"
                )
            config.split_address(self.forward, "forward")
        if self.control:
            config.split_address(self.control, "control")
        if bool(self.control_cert_file) != bool(self.control_key_file):
            raise config.ConfigError("control_cert_file and control_key_file go together")
        for key in ("otlp_grpc", "otlp_http", "admin"):
            config.split_address(getattr(self, key), key)
        for i, actuator in enumerate(self.actuators):
            _check_actuator(actuator, f"actuators[{i}]")
            if actuator.kind == "gate" and not self.gate.enabled:
                raise config.ConfigError(f"actuators[{i}]: a gate actuator needs gate.listen")


def _check_actuator(actuator: ActuatorConfig, key: str) -> None:
    config.check_ranges(actuator, key + ".")
    if actuator.kind not in ACTUATOR_KINDS:
        raise config.ConfigError(f"{key}.kind: {actuator.kind!r} is not one of {ACTUATOR_KINDS}")
    if actuator.kind == "webhook" and not actuator.url.startswith(("http://", "https://")):
        raise config.ConfigError(f"{key}.url: a webhook needs an http(s) URL")
    if actuator.kind == "command" and not actuator.command:
        raise config.ConfigError(f"{key}.command: a command actuator needs a program to run")


def parser() -> argparse.ArgumentParser:
    """The command-line flags; each is also IMMUNE_<NAME> and a YAML key."""
    p = argparse.ArgumentParser(
        prog="immune-sidecar",
        description="Receive an agent's OTLP metrics, learn its normal vitals, "
        "quarantine it the moment it misbehaves.",
        epilog="Every flag is also an IMMUNE_<FLAG> environment variable (IMMUNE_OTLP_GRPC, …) "
        "and a key in the --config YAML file; flags win over the environment, which wins "
        "over the file.",
    )
    flag = p.add_argument
    flag("--otlp-grpc", metavar="HOST:PORT", help="OTLP/gRPC listen address (127.0.0.1:4317)")
    flag("--otlp-http", metavar="HOST:PORT", help="OTLP/HTTP listen address (127.0.0.1:4318)")
    flag(
        "--admin", metavar="HOST:PORT", help="/healthz /readyz /metrics /v1/agents (127.0.0.1:9464)"
    )
    flag("--state-dir", metavar="DIR", help="where baselines and quarantines persist")
    flag("--config", metavar="FILE", help="YAML file with any of these keys and more")
    flag("--forward", metavar="URL", help="tee OTLP unchanged to grpc://HOST:PORT or http://…")
    flag("--control", metavar="HOST:PORT", help="report to immune-control; it decides releases")
    flag("--control-ca-file", metavar="PEM", help="connect to control with TLS, trusting this CA")
    flag("--control-cert-file", metavar="PEM", help="this sidecar's certificate (mutual TLS)")
    flag("--control-key-file", metavar="PEM", help="the certificate's private key")
    flag("--control-token-file", metavar="FILE", help="this sidecar's link token (a file)")
    flag("--sidecar-id", metavar="NAME", help="this sidecar's name on the link (host name)")
    flag("--mapping", metavar="FILE", help="YAML metric mapping and price overrides")
    flag(
        "--max-agents", type=int, metavar="N", help="agents kept before the least recent is evicted"
    )
    flag("--max-message-bytes", type=int, metavar="N", help="OTLP message size limit")
    flag("--log-level", choices=("debug", "info", "warning", "error"))
    flag("--log-format", choices=("text", "json"))
    return p


def from_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> SidecarConfig:
    """Parse flags (exits 2 on a bad one) and load the config; raises ConfigError."""
    args = vars(parser().parse_args(argv))
    yaml_path = args.get("config") or env.get(config.ENV_PREFIX + "CONFIG")
    return config.load(SidecarConfig, flags=args, env=env, yaml_path=yaml_path)
