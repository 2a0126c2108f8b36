"""An in-process sidecar on real loopback ports, and what tests read of it."""

import json
import socket
import urllib.error
import urllib.request

from immune_sidecar.app import Sidecar
from immune_sidecar.config import SidecarConfig

LOOPBACK = {"otlp_grpc": "127.0.0.1:0", "otlp_http": "127.0.0.1:0", "admin": "127.0.0.1:0"}
# Tests compress time: each export is an interval of its own, however soon after the last.
EVERY_EXPORT = {"sample_seconds": 0.0}


def start_sidecar(**overrides) -> Sidecar:
    """A started sidecar on free loopback ports, judging every export."""
    sidecar = Sidecar(SidecarConfig(**{**LOOPBACK, **EVERY_EXPORT, **overrides}))
    sidecar.start()
    return sidecar


def get_json(port: int, path: str) -> tuple[int, dict]:
    """GET a JSON document from a local port: (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metric(sidecar, name: str, **labels) -> float:
    value = sidecar.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024
