"""Shared fixtures: an in-process sidecar on real loopback ports."""

import json
import socket
import urllib.error
import urllib.request

import pytest

from immune_sidecar.app import Sidecar
from immune_sidecar.config import SidecarConfig

LOOPBACK = {"otlp_grpc": "127.0.0.1:0", "otlp_http": "127.0.0.1:0", "admin": "127.0.0.1:0"}


def start_sidecar(**overrides) -> Sidecar:
    """A started sidecar on free loopback ports."""
    sidecar = Sidecar(SidecarConfig(**{**LOOPBACK, **overrides}))
    sidecar.start()
    return sidecar


@pytest.fixture
def sidecar():
    """A running sidecar with default settings, stopped afterwards."""
    running = start_sidecar()
    yield running
    running.stop()


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


def pytest_addoption(parser):
    parser.addoption(
        "--soak-seconds",
        type=float,
        default=45.0,
        help="how long the soak test watches 100 agents under chaos, at the least "
        "(it also waits for every fault to be caught; 45 s suits CI)",
    )
    parser.addoption(
        "--outage-seconds",
        type=float,
        default=12.0,
        help="how long control stays away while infections arrive (minutes: 180 and more)",
    )


@pytest.fixture
def soak_seconds(request) -> float:
    """The soak test's watch time, from --soak-seconds."""
    return request.config.getoption("--soak-seconds")


@pytest.fixture
def outage_seconds(request) -> float:
    """How long the outage test keeps control away, from --outage-seconds."""
    return request.config.getoption("--outage-seconds")
