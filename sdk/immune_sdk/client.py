"""The blocking client."""

import time
from collections.abc import Iterator
from typing import Any

import grpc
from immune.v1 import control_pb2 as api
from immune.v1 import control_pb2_grpc

from ._api import Calls, Extract
from .errors import from_rpc_error
from .options import Options

# Retried for every call: control was not reached or could not store the change.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})
# Also retried for reads, which change nothing.
RETRYABLE_READS = RETRYABLE | {grpc.StatusCode.DEADLINE_EXCEEDED}


class Client(Calls):
    """ControlService over one channel; use as a context manager or call ``close``."""

    def __init__(self, options: Options | None = None, **fields: Any) -> None:
        self.options = options or Options(**fields)
        creds = self.options.credentials()
        target = self.options.target
        self._channel = (
            grpc.secure_channel(target, creds) if creds else grpc.insecure_channel(target)
        )
        self._stub = control_pb2_grpc.ControlServiceStub(self._channel)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()

    def watch(self, after_sequence: int = 0, agent_id: str = "") -> Iterator:
        """WatchEvents: stored events after ``after_sequence``, then each new one as it happens.

        The iterator ends only with an error (ImmuneError) or ``close``; to resume after
        a break, watch again from the last sequence seen.
        """
        request = api.WatchEventsRequest(after_sequence=after_sequence, agent_id=agent_id)
        stream = self._stub.WatchEvents(request, metadata=self.options.metadata())
        try:
            for item in stream:
                yield item.event
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise from_rpc_error(exc, "WatchEvents") from None
        finally:
            stream.cancel()

    def _invoke(self, method: str, request: Any, extract: Extract, read: bool = False) -> Any:
        retryable = RETRYABLE_READS if read else RETRYABLE
        call = getattr(self._stub, method)
        for delay in [*self.options.delays(), None]:
            try:
                response = call(
                    request,
                    timeout=self.options.timeout_seconds,
                    metadata=self.options.metadata(),
                )
                return extract(response)
            except grpc.RpcError as exc:
                if delay is None or exc.code() not in retryable:
                    raise from_rpc_error(exc, method) from None
            time.sleep(delay)
        raise AssertionError("unreachable")
