"""Immune SDK: a typed client for the Immune control API (blocking and asyncio), and immunectl.

from immune_sdk import Client

with Client(target="control:50051", actor="alice") as immune:
    for incident in immune.incidents(states=["pending_approval"]):
        immune.approve(incident.id, reason="checked the evidence")
"""

from .aio import AsyncClient
from .client import Client
from .errors import (
    DeadlineExceeded,
    FailedPrecondition,
    ImmuneError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from .options import Options

__all__ = [
    "AsyncClient",
    "Client",
    "DeadlineExceeded",
    "FailedPrecondition",
    "ImmuneError",
    "InvalidArgument",
    "NotFound",
    "Options",
    "PermissionDenied",
    "Unauthenticated",
    "Unavailable",
]
