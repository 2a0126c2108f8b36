"""The sidecar's side of the link to control."""

from .client import LinkClient

__all__ = ["LinkClient"]
