"""Control's durable records in DuckDB."""

from .db import Database, StoreError
from .repo import Store

__all__ = ["Database", "Store", "StoreError"]
