"""The control side of the sidecar link: sessions, acks, command delivery.

Each sidecar holds one Connect stream. Its messages are handled in order on
the engine's single worker thread and acked once their effects committed;
commands are stored before they are sent and resent after a reconnect until
the sidecar acks them, so delivery is at-least-once on both sides.
"""

import asyncio
import collections
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor

import grpc
from immune.v1 import common_pb2 as pb
from immune.v1 import link_pb2, link_pb2_grpc

from immune_common import vocab, wire
from immune_common.ratelimit import TokenBucket

from .. import convert
from ..access import PermissionDenied, Unauthenticated
from ..commands import APPLY_ACTION, QUARANTINE, RELEASE, Command
from ..control import Control
from ..errors import ControlError
from ..model import AgentInfo
from ..store import StoreError
from . import bounds
from .gate import LinkGate
from .reports import SidecarReports

log = logging.getLogger(__name__)
VERSION = "0.1.0"
# (sidecar, message id) pairs remembered, so a repeat is a no-op; one bound for all
# sidecars, so ids of sidecars long gone (rescheduled pods) do not pile up.
HANDLED_KEPT = 100_000


class SessionTaken(ControlError):
    """A live sidecar id claimed with another credential."""

    code = "PERMISSION_DENIED"


class Sessions:
    """The live stream of each sidecar; the Courier that control's ledger sends through."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queues: dict[str, asyncio.Queue] = {}
        self._identities: dict[str, str] = {}

    def open(self, sidecar_id: str, identity: str = "") -> asyncio.Queue:
        """A fresh outgoing queue for a sidecar. A newer stream with the same credential
        replaces an older one (a reconnect); another credential is SessionTaken."""
        old = self._queues.get(sidecar_id)
        if old is not None and self._identities.get(sidecar_id) != identity:
            raise SessionTaken(
                f"sidecar {sidecar_id!r} is connected with another credential; "
                "a second session must present the same one"
            )
        if old is not None:
            log.warning("sidecar %s: a new session replaces the live one", sidecar_id)
            old.put_nowait(None)
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[sidecar_id], self._identities[sidecar_id] = queue, identity
        return queue

    def close(self, sidecar_id: str, queue: asyncio.Queue) -> None:
        """Forget a stream's queue if it is still the current one."""
        if self._queues.get(sidecar_id) is queue:
            del self._queues[sidecar_id]
            del self._identities[sidecar_id]

    def deliver(self, command: Command) -> None:
        """Queue a command on its sidecar's stream, from any thread; no stream, no send."""
        self._loop.call_soon_threadsafe(self._put, command)

    def connected(self) -> int:
        """How many sidecars hold a stream now."""
        return len(self._queues)

    def _put(self, command: Command) -> None:
        queue = self._queues.get(command.sidecar_id)
        if queue is not None:
            queue.put_nowait(to_message(command))


class LinkServicer(link_pb2_grpc.SidecarLinkServiceServicer):
    """SidecarLinkService.Connect: a thin adapter over the sidecar reports."""

    def __init__(
        self,
        control: Control,
        sessions: Sessions,
        engine: Executor,
        health_interval: float,
        on_message: Callable[[str], None],
        on_refused: Callable[[str], None] = lambda reason: None,
        gate: LinkGate | None = None,
        max_rate: float = 1000.0,
    ) -> None:
        self._reports, self._sessions, self._engine = SidecarReports(control), sessions, engine
        self._health_interval = health_interval
        self._on_message, self._on_refused = on_message, on_refused
        self._gate = gate or LinkGate(None, mutual=False)
        self._max_rate = max_rate
        self._handled: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()

    async def Connect(self, request_iterator: AsyncIterator, context) -> AsyncIterator:
        """Hello first; then acks, reports and commands both ways until either side ends."""
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("body") != "hello" or not first.hello.sidecar_id:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first message on the link must be a Hello with a sidecar_id",
            )
        hello = first.hello
        sidecar = hello.sidecar_id
        queue, identity = await self._admit(hello, context)
        try:
            pending = await self._run(
                self._reports.hello,
                sidecar,
                hello.version,
                hello.quarantined_agent_ids,
                hello.applied_command_ids,
            )
        except StoreError as exc:
            self._sessions.close(sidecar, queue)
            await context.abort(grpc.StatusCode.UNAVAILABLE, _unstored(sidecar, exc))
        log.info(
            "sidecar %s connected with %s (%d agents, %d commands to resend)",
            sidecar,
            identity,
            len(hello.agent_ids),
            len(pending),
        )
        yield _welcome(self._health_interval)
        yield _ack([first.message_id])
        for command in pending:
            yield to_message(command)
        reader = asyncio.ensure_future(self._read(sidecar, request_iterator, queue))
        try:
            while (message := await queue.get()) is not None:
                if isinstance(message, StoreError):
                    await context.abort(grpc.StatusCode.UNAVAILABLE, _unstored(sidecar, message))
                yield message
        finally:
            reader.cancel()
            self._sessions.close(sidecar, queue)
            await self._disconnected(sidecar)

    async def _disconnected(self, sidecar: str) -> None:
        try:
            await self._run(self._reports.disconnected, sidecar)
        except StoreError as exc:
            log.error("sidecar %s disconnected, but that cannot be stored: %s", sidecar, exc)
        else:
            log.info("sidecar %s disconnected", sidecar)

    async def _admit(self, hello, context) -> tuple[asyncio.Queue, str]:
        """The session's queue and the credential that proved the Hello's sidecar id."""
        try:
            bounds.hello(hello)
            identity = self._gate.identify(context, hello.sidecar_id)
            return self._sessions.open(hello.sidecar_id, identity), identity
        except ControlError as exc:
            reason = _ADMISSION_REFUSALS.get(type(exc), "invalid")
            self._on_refused(reason)
            log.warning("a link as sidecar %.64r refused: %s", hello.sidecar_id, exc)
            await context.abort(grpc.StatusCode[exc.code], str(exc))

    async def _read(self, sidecar: str, requests: AsyncIterator, queue: asyncio.Queue) -> None:
        bucket = TokenBucket(self._max_rate, self._max_rate)
        try:
            async for request in requests:
                await self._throttle(bucket)
                self._on_message(request.WhichOneof("body") or "empty")
                await self._handle(sidecar, request, queue)
        except (grpc.aio.AioRpcError, asyncio.CancelledError):
            pass
        except StoreError as exc:
            queue.put_nowait(exc)  # ends the stream unacked: the sidecar resends later
        finally:
            queue.put_nowait(None)

    async def _throttle(self, bucket: TokenBucket) -> None:
        """Past the rate, wait before reading on: gRPC flow control then slows the sidecar."""
        wait = bucket.take()
        if wait:
            self._on_refused("rate")
        while wait:
            await asyncio.sleep(wait)
            wait = bucket.take()

    async def _handle(self, sidecar: str, request, queue: asyncio.Queue) -> None:
        kind = request.WhichOneof("body")
        body = getattr(request, kind) if kind else None
        handled = (sidecar, request.message_id)
        if handled not in self._handled:
            try:
                await self._run(self._apply, sidecar, kind, body)
            except PermissionDenied as exc:
                # Not acked: the sidecar keeps the report and offers it again later.
                self._on_refused("foreign_agent")
                log.warning("sidecar %s sent a %s it may not send now (%s)", sidecar, kind, exc)
                queue.put_nowait(_refused([request.message_id], str(exc)))
                return
            except ControlError as exc:
                self._on_refused("invalid")
                log.warning("sidecar %s sent an unusable %s (%s): dropped", sidecar, kind, exc)
            self._remember(handled)
        if kind != "ack":
            queue.put_nowait(_ack([request.message_id]))

    def _remember(self, handled: tuple[str, str]) -> None:
        """Note a handled (sidecar, message id), the newest HANDLED_KEPT of them."""
        if handled[1]:
            self._handled[handled] = None
            if len(self._handled) > HANDLED_KEPT:
                self._handled.popitem(last=False)

    def _apply(self, sidecar: str, kind: str | None, body) -> None:
        """One message's effect, in one trip to the engine thread."""
        self._reports.heard(sidecar)
        bounds.check(kind, body)
        why = self._may_not(sidecar, kind, body)
        if why:
            raise PermissionDenied(why)
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(sidecar, body)

    def _may_not(self, sidecar: str, kind: str | None, body) -> str:
        """Why this sidecar may not send this message ('' when it may)."""
        if kind in ("action_result", "probation_result"):
            return self._reports.answerable(sidecar, body.incident_id, body.agent_id)
        if kind == "agent_seen":
            return self._reports.foreign(sidecar, [body.agent.id])
        if kind == "infection":
            return self._reports.foreign(sidecar, [body.infection.agent_id])
        if kind == "health":
            return self._reports.foreign(sidecar, [v.agent_id for v in body.agents])
        return ""

    def _on_ack(self, sidecar: str, body) -> None:
        self._reports.acked(sidecar, list(body.message_ids))

    def _on_agent_seen(self, sidecar: str, body) -> None:
        a = body.agent
        info = AgentInfo(
            a.id,
            sidecar,
            a.name,
            a.model,
            a.provider,
            tuple(a.mcp_servers),
            tuple(a.tools),
            dict(a.labels),
            _status(a.status),
            wire.seconds(a.first_seen_time),
            wire.seconds(a.last_seen_time),
        )
        self._reports.agent_seen(info)

    def _on_infection(self, sidecar: str, body) -> None:
        self._reports.infection(convert.from_infection(body.infection, sidecar))

    def _on_action_result(self, sidecar: str, body) -> None:
        self._reports.action_result(
            body.incident_id,
            body.action_id,
            body.ok,
            body.detail,
            body.dry_run,
        )

    def _on_probation_result(self, sidecar: str, body) -> None:
        detail = (
            f"{body.samples} healthy samples"
            if body.healthy
            else ", ".join(convert.from_anomaly(a).describe() for a in body.infection.anomalies)
        )
        self._reports.probation_result(body.incident_id, body.healthy, detail or "re-infected")

    def _on_health(self, sidecar: str, body) -> None:
        vitals = [
            (
                v.agent_id,
                _status(v.status),
                convert.from_sample(v.latest) if v.HasField("latest") else None,
                v.samples_total,
            )
            for v in body.agents
        ]
        self._reports.health(sidecar, vitals)

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._engine, fn, *args)


def to_message(command: Command) -> link_pb2.ConnectResponse:
    """A stored command as the message that carries it (its id is the message id)."""
    msg = link_pb2.ConnectResponse(message_id=command.id)
    if command.kind == QUARANTINE:
        msg.quarantine.CopyFrom(
            link_pb2.QuarantineCommand(
                agent_id=command.agent_id,
                incident_id=command.incident_id,
                reason=command.reason,
                enforce=command.enforce,
            )
        )
    elif command.kind == RELEASE:
        msg.release.CopyFrom(
            link_pb2.ReleaseCommand(
                agent_id=command.agent_id,
                incident_id=command.incident_id,
                reason=command.reason,
                adopt_baseline=command.adopt_baseline,
            )
        )
        if command.probation_samples:
            msg.release.probation.CopyFrom(
                pb.ProbationWindow(
                    samples=command.probation_samples,
                    timeout=wire.duration(command.probation_timeout_seconds),
                )
            )
    elif command.kind == APPLY_ACTION:
        msg.apply_action.CopyFrom(
            link_pb2.ApplyActionCommand(
                agent_id=command.agent_id,
                incident_id=command.incident_id,
                action_id=command.action_id,
                action=convert.to_enum(pb.Action, command.action),
                dry_run=command.dry_run,
                timeout=wire.duration(command.timeout_seconds),
            )
        )
    return msg


def _unstored(sidecar: str, exc: StoreError) -> str:
    log.error("sidecar %s: %s; its stream ends and it resends later", sidecar, exc)
    return f"control cannot store what this sidecar sends ({exc}); keep it and retry"


def _welcome(health_interval: float) -> link_pb2.ConnectResponse:
    return link_pb2.ConnectResponse(
        message_id=uuid.uuid4().hex,
        welcome=link_pb2.Welcome(
            control_version=VERSION,
            session_id=uuid.uuid4().hex,
            health_interval=wire.duration(health_interval),
        ),
    )


def _ack(ids: list[str]) -> link_pb2.ConnectResponse:
    return link_pb2.ConnectResponse(message_id=uuid.uuid4().hex, ack=link_pb2.Ack(message_ids=ids))


def _refused(ids: list[str], reason: str) -> link_pb2.ConnectResponse:
    return link_pb2.ConnectResponse(
        message_id=uuid.uuid4().hex, refused=link_pb2.Refused(message_ids=ids, reason=reason)
    )


# Why a link was not admitted, by error, for immune_refused_total{where="link"}.
_ADMISSION_REFUSALS = {
    Unauthenticated: "credential",
    PermissionDenied: "identity",
    SessionTaken: "session_taken",
}


def _status(number: int) -> str:
    return vocab.name(pb.AgentStatus, number)
