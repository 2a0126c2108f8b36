"""The asyncio client: the same calls as Client, each awaitable."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from immune.v1 import control_pb2 as api
from immune.v1 import control_pb2_grpc

from ._api import Calls, Extract
from .client import RETRYABLE, RETRYABLE_READS
from .errors import from_rpc_error
from .options import Options


class AsyncClient(Calls):
    """ControlService on a grpc.aio channel; ``async with`` it or await ``close``."""

    def __init__(self, options: Options | None = None, **fields: Any) -> None:
        self.options = options or Options(**fields)
        creds = self.options.credentials()
        target = self.options.target
        self._channel = (
            grpc.aio.secure_channel(target, creds) if creds else grpc.aio.insecure_channel(target)
        )
        self._stub = control_pb2_grpc.ControlServiceStub(self._channel)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()

    async def watch(self, after_sequence: int = 0, agent_id: str = "") -> AsyncIterator:
        """WatchEvents: stored events after ``after_sequence``, then each new one."""
        request = api.WatchEventsRequest(after_sequence=after_sequence, agent_id=agent_id)
        stream = self._stub.WatchEvents(request, metadata=self.options.metadata())
        try:
            async for item in stream:
                yield item.event
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise from_rpc_error(exc, "WatchEvents") from None
        finally:
            stream.cancel()

    def _invoke(self, method: str, request: Any, extract: Extract, read: bool = False) -> Any:
        return self._call(method, request, extract, RETRYABLE_READS if read else RETRYABLE)

    async def _call(self, method: str, request: Any, extract: Extract, retryable) -> Any:
        call = getattr(self._stub, method)
        for delay in [*self.options.delays(), None]:
            try:
                response = await call(
                    request,
                    timeout=self.options.timeout_seconds,
                    metadata=self.options.metadata(),
                )
                return extract(response)
            except grpc.RpcError as exc:
                if delay is None or exc.code() not in retryable:
                    raise from_rpc_error(exc, method) from None
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
