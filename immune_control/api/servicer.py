"""ControlService: convert the request, call control, convert the answer, map errors."""

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Executor

import grpc
from google.protobuf.message import DecodeError
from immune.v1 import common_pb2 as pb
from immune.v1 import control_pb2 as api
from immune.v1 import control_pb2_grpc

from immune_common import wire

from .. import convert
from ..access import NEEDS, READ
from ..control import Control
from ..errors import ControlError, InvalidArgument, LimitExceeded
from ..queries import Queries
from ..store import StoreError
from .decisions import Caller, Decisions
from .gate import Gate

log = logging.getLogger(__name__)
MAX_PAGE = 1000
MAX_FIELD_CHARS = 256  # ids, names, queries and page tokens in a request
REPLAY_PAGE = 5000
ROLE_NUMBERS = dict(pb.Role.items())
# Who is calling, set by _rpc once the gate let the call in.
_CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar("caller")


def _rpc(method):
    """Run the body on an executor and turn domain errors into status codes."""

    @functools.wraps(method)
    async def wrapper(self, request, context):
        try:
            _CALLER.set(await self._admit(request, context, method.__name__))
            return await method(self, request, context)
        except ControlError as exc:
            await self._abort(context, exc)
        except StoreError as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))

    return wrapper


class Unparsable:
    """A request body that is not its message (invalid UTF-8, say): INVALID_ARGUMENT."""

    def __init__(self, message: str) -> None:
        self.message = message

    def refuse(self) -> None:
        """Raise the InvalidArgument this request deserves."""
        raise InvalidArgument(f"the request is not a valid message: {self.message[:200]}")


def add_to_server(servicer: "ControlServicer", server) -> None:
    """Serve ControlService with deserializers that hand bad bytes to the servicer as
    Unparsable (the generated ones make them UNKNOWN, with a traceback in the log)."""
    service = api.DESCRIPTOR.services_by_name["ControlService"]
    handlers = {m.name: _handler(servicer, m) for m in service.methods}
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )


def _handler(servicer, method):
    request, response = (getattr(api, t.name) for t in (method.input_type, method.output_type))
    make = (
        grpc.unary_stream_rpc_method_handler
        if method.server_streaming
        else grpc.unary_unary_rpc_method_handler
    )
    return make(
        getattr(servicer, method.name),
        request_deserializer=functools.partial(_parse, request),
        response_serializer=response.SerializeToString,
    )


def _parse(message_type, raw: bytes):
    try:
        return message_type.FromString(raw)
    except DecodeError as exc:
        return Unparsable(str(exc))


def bounded(request, field: str = "") -> None:
    """Refuse a request holding a string longer than MAX_FIELD_CHARS (reasons have their
    own configured limit): no id, query or token outgrows a log line or an audit entry."""
    for descriptor, value in request.ListFields():
        name = f"{field}{descriptor.name}"
        values = value if descriptor.is_repeated else [value]
        if descriptor.type == descriptor.TYPE_MESSAGE:
            if descriptor.message_type.GetOptions().map_entry:
                values = [f"{k}{v}" for k, v in value.items()] if value else []
                _longest(name, values)
                continue
            for item in values:
                bounded(item, name + ".")
        elif descriptor.type == descriptor.TYPE_STRING and descriptor.name != "reason":
            _longest(name, values)


def _longest(name: str, values) -> None:
    longest = max((len(v) for v in values), default=0)
    if longest > MAX_FIELD_CHARS:
        raise InvalidArgument(f"{name}: at most {MAX_FIELD_CHARS} characters, got {longest}")


def _refusal(exc: ControlError) -> str:
    """The limit or permission that refused a call ('' for other errors)."""
    if isinstance(exc, LimitExceeded):
        return exc.limit
    return exc.code.lower() if exc.code in ("UNAUTHENTICATED", "PERMISSION_DENIED") else ""


class ControlServicer(control_pb2_grpc.ControlServiceServicer):
    """The public API over Control and Queries."""

    def __init__(
        self,
        control: Control,
        engine: Executor,
        reads: Executor,
        gate: Gate | None = None,
        on_refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self._control, self._engine, self._reads = control, engine, reads
        self._gate = gate or Gate()
        self._on_refused = on_refused
        self._queries = Queries(control)
        self._decisions = Decisions(control)

    async def _admit(self, request, context, method: str) -> Caller:
        """The caller, once the gate let them in (a refused change is audited too) and the
        request is a message within bounds."""
        try:
            caller = self._gate.check(context, method)
        except ControlError as exc:
            if NEEDS.get(method, READ) != READ:
                await self._act(self._decisions.refused, method, exc.code, self._gate.who(context))
            raise
        if isinstance(request, Unparsable):
            request.refuse()
        bounded(request)
        return caller

    async def _abort(self, context, exc: ControlError) -> None:
        """End the call with the error's status, counting refusals by limit or permission."""
        refusal = _refusal(exc)
        if refusal:
            self._on_refused(refusal)
        await context.abort(grpc.StatusCode[exc.code], str(exc))

    @_rpc
    async def ListAgents(self, request, context):
        status = _status_name(request.status)
        views = await self._read(self._queries.agents, status, request.query)
        page, token = _page(views, request.page_size, request.page_token)
        return api.ListAgentsResponse(
            agents=[_agent(v) for v in page], next_page_token=token, total_size=len(views)
        )

    @_rpc
    async def GetAgent(self, request, context):
        if not 0 <= request.sample_limit <= MAX_PAGE:
            raise InvalidArgument(f"sample_limit: 0 (the default, 120) to {MAX_PAGE}")
        view = await self._read(self._queries.agent, request.agent_id)
        samples = await self._read(self._queries.samples, view.info.id, request.sample_limit or 120)
        incidents, _ = await self._read(self._queries.incidents, (), view.info.id, 20, 0)
        memory = await self._read(self._queries.memory, view.info.id)
        return api.GetAgentResponse(
            agent=_agent(view),
            samples=[convert.sample(s) for s in samples],
            incidents=[convert.incident(i) for i in incidents],
            memory=[convert.memory_entry(e) for e in memory],
        )

    @_rpc
    async def ListIncidents(self, request, context):
        states = [convert.from_enum(pb.IncidentState, s, "states") for s in request.states]
        size, offset = _size(request.page_size), _offset(request.page_token)
        found, total = await self._read(
            self._queries.incidents, states, request.agent_id, size, offset
        )
        token = str(offset + size) if offset + size < total else ""
        return api.ListIncidentsResponse(
            incidents=[convert.incident(i) for i in found], next_page_token=token, total_size=total
        )

    @_rpc
    async def GetIncident(self, request, context):
        incident, timeline = await self._read(self._queries.incident, request.incident_id)
        return api.GetIncidentResponse(incident=convert.incident(incident, timeline))

    @_rpc
    async def ApproveHealing(self, request, context):
        done = await self._act(
            self._decisions.approve, _target(request), _CALLER.get(), request.reason
        )
        return api.ApproveHealingResponse(incident=convert.incident(done))

    @_rpc
    async def RejectHealing(self, request, context):
        done = await self._act(
            self._decisions.reject, _target(request), _CALLER.get(), request.reason
        )
        return api.RejectHealingResponse(incident=convert.incident(done))

    @_rpc
    async def HealNow(self, request, context):
        action = convert.from_enum(pb.Action, request.action, "action") if request.action else ""
        done = await self._act(
            self._decisions.heal_now, _target(request), _CALLER.get(), request.reason, action
        )
        return api.HealNowResponse(incident=convert.incident(done))

    @_rpc
    async def ApproveAll(self, request, context):
        return api.ApproveAllResponse(results=await self._bulk("ApproveAll", request, context))

    @_rpc
    async def RejectAll(self, request, context):
        return api.RejectAllResponse(results=await self._bulk("RejectAll", request, context))

    @_rpc
    async def HealAll(self, request, context):
        return api.HealAllResponse(results=await self._bulk("HealAll", request, context))

    @_rpc
    async def GetHealingLog(self, request, context):
        size, offset = _size(request.page_size), _offset(request.page_token)
        found = await self._read(
            self._control.store.actions, request.agent_id, request.incident_id, size + 1, offset
        )
        token = str(offset + size) if len(found) > size else ""
        return api.GetHealingLogResponse(
            actions=[convert.action(a) for a in found[:size]], next_page_token=token
        )

    @_rpc
    async def GetImmuneMemory(self, request, context):
        diagnosis = (
            convert.from_enum(pb.Diagnosis, request.diagnosis, "diagnosis")
            if request.diagnosis
            else ""
        )
        fleet = await self._read(self._queries.memory, "", diagnosis)
        own = (
            await self._read(self._queries.memory, request.agent_id, diagnosis)
            if (request.agent_id)
            else []
        )
        return api.GetImmuneMemoryResponse(
            fleet=[convert.memory_entry(e) for e in fleet],
            agent=[convert.memory_entry(e) for e in own],
        )

    @_rpc
    async def ListPolicies(self, request, context):
        policies = sorted(
            self._control.policies.values(),
            key=lambda p: convert.to_enum(pb.Diagnosis, p.diagnosis),
        )
        return api.ListPoliciesResponse(policies=[convert.policy(p) for p in policies])

    @_rpc
    async def UpsertPolicy(self, request, context):
        p = request.policy
        diagnosis = convert.from_enum(pb.Diagnosis, p.diagnosis, "policy.diagnosis")
        actions = [
            convert.from_enum(pb.Action, a, f"policy.actions[{n}]") for n, a in enumerate(p.actions)
        ]
        done = await self._act(
            self._decisions.upsert_policy, diagnosis, actions, _CALLER.get(), request.reason
        )
        return api.UpsertPolicyResponse(policy=convert.policy(done))

    @_rpc
    async def GetStats(self, request, context):
        s = await self._read(self._queries.stats)
        return api.GetStatsResponse(
            agents_total=s.agents_total,
            agents_by_status={k.upper(): v for k, v in s.agents_by_status.items()},
            samples_total=s.samples_total,
            infections_total=s.infections_total,
            incidents_open=s.incidents_open,
            healed_total=s.healed_total,
            success_rate=s.success_rate,
            pending_approvals=s.pending_approvals,
            rejected=s.rejected,
            uptime=wire.duration(s.uptime_seconds),
            sidecars_connected=s.sidecars_connected,
            last_event_sequence=s.last_event_sequence,
        )

    @_rpc
    async def RecordFeedback(self, request, context):
        cause = (
            convert.from_enum(pb.Diagnosis, request.true_cause, "true_cause")
            if request.true_cause
            else ""
        )
        f = await self._act(
            self._decisions.feedback,
            request.incident_id,
            request.false_positive,
            cause,
            _CALLER.get(),
            request.reason,
        )
        return api.RecordFeedbackResponse(
            feedback=pb.Feedback(
                incident_id=f.incident_id,
                false_positive=f.false_positive,
                true_cause=convert.to_enum(pb.Diagnosis, f.true_cause),
                actor=f.actor,
                reason=f.reason,
                time=wire.timestamp(f.time),
            )
        )

    @_rpc
    async def GetCaller(self, request, context):
        caller = _CALLER.get()
        return api.GetCallerResponse(actor=caller.actor, role=_role(caller.role))

    @_rpc
    async def ListAuditEntries(self, request, context):
        size, offset = _size(request.page_size), _offset(request.page_token)
        found = await self._read(self._control.store.audit, request.actor, size + 1, offset)
        return api.ListAuditEntriesResponse(
            entries=[
                pb.AuditEntry(
                    sequence=e.sequence,
                    time=wire.timestamp(e.time),
                    actor=e.actor,
                    role=_role(e.role),
                    method=e.method,
                    target=e.target,
                    reason=e.reason,
                    result=e.result,
                )
                for e in found[:size]
            ],
            next_page_token=str(offset + size) if len(found) > size else "",
        )

    async def WatchEvents(self, request, context):
        """Stored events after ``after_sequence``, then every new one as it is stored."""
        try:
            await self._admit(request, context, "WatchEvents")
        except ControlError as exc:
            await self._abort(context, exc)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        stop = self._control.ledger.events.watch(
            lambda e: loop.call_soon_threadsafe(_offer, queue, e)
        )
        try:
            last = request.after_sequence
            while page := await self._read(
                self._control.store.events, last, "", request.agent_id, REPLAY_PAGE
            ):
                for e in page:
                    last = e.sequence
                    yield api.WatchEventsResponse(event=convert.event(e))
                if len(page) < REPLAY_PAGE:
                    break
            while (e := await queue.get()) is not None:
                if e.sequence > last and (not request.agent_id or e.agent_id == request.agent_id):
                    last = e.sequence
                    yield api.WatchEventsResponse(event=convert.event(e))
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"watcher fell behind after event {last}; resume after it",
            )
        finally:
            stop()

    async def _bulk(self, method: str, request, context) -> list[api.BulkResult]:
        results = await self._act(
            self._decisions.bulk, method, _CALLER.get(), request.reason, list(request.agent_ids)
        )
        return [
            api.BulkResult(
                incident_id=r.incident_id,
                agent_id=r.agent_id,
                ok=r.ok,
                code=r.code,
                message=r.message,
                state=convert.to_enum(pb.IncidentState, r.state),
            )
            for r in results
        ]

    async def _act(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._engine, fn, *args)

    async def _read(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._reads, fn, *args)


def _offer(queue: asyncio.Queue, event) -> None:
    try:
        queue.put_nowait(event)
    except asyncio.QueueFull:
        queue._queue.clear()  # the watcher is told to resume from its last event
        queue.put_nowait(None)


def _agent(view) -> pb.Agent:
    a = view.info
    return pb.Agent(
        id=a.id,
        name=a.name,
        model=a.model,
        provider=a.provider,
        mcp_servers=a.mcp_servers,
        tools=a.tools,
        status=convert.to_enum(pb.AgentStatus, view.status),
        sidecar_id=a.sidecar_id,
        first_seen_time=wire.timestamp(a.first_seen or None),
        last_seen_time=wire.timestamp(a.last_seen or None),
        open_incident_id=view.open_incident_id,
        labels=dict(a.labels),
    )


def _target(request) -> tuple[str, str]:
    which = request.target.WhichOneof("target")
    if which is None:
        raise InvalidArgument("target: name an incident_id or an agent_id")
    return (
        (request.target.incident_id, "")
        if which == "incident_id"
        else ("", request.target.agent_id)
    )


def _role(name: str) -> int:
    return ROLE_NUMBERS.get(f"ROLE_{name.upper()}", pb.ROLE_UNSPECIFIED)


def _status_name(number: int) -> str:
    return convert.from_enum(pb.AgentStatus, number, "status") if number else ""


def _size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative")
    return min(page_size or 100, MAX_PAGE)


def _offset(token: str) -> int:
    if not token:
        return 0
    if not (token.isascii() and token.isdigit()) or len(token) > 18:
        raise InvalidArgument(f"page_token {token[:20]!r} was not issued by this server")
    return int(token)


def _page(items: list, page_size: int, token: str) -> tuple[list, str]:
    size, offset = _size(page_size), _offset(token)
    end = offset + size
    return items[offset:end], str(end) if end < len(items) else ""
