"""Shared fixtures: an in-process sidecar on real loopback ports."""

import pytest

from tests.support.sidecar import start_sidecar


@pytest.fixture
def sidecar():
    """A running sidecar with default settings, stopped afterwards."""
    running = start_sidecar()
    yield running
    running.stop()


def pytest_addoption(parser):
    parser.addoption(
        "--soak-seconds",
        type=float,
        default=45.0,
        help="how long the soak test watches the memory of 100 agents under chaos, from "
        "when every fault has been caught (45 s suits CI)",
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
