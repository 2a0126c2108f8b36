"""The sidecar's side of the link to control."""

from .client import LinkClient, LinkSettings

__all__ = ["LinkClient", "LinkSettings"]
