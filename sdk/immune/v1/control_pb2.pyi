import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from immune.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Target(_message.Message):
    __slots__ = ("incident_id", "agent_id")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    agent_id: str
    def __init__(self, incident_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class BulkResult(_message.Message):
    __slots__ = ("incident_id", "agent_id", "ok", "code", "message", "state")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    agent_id: str
    ok: bool
    code: str
    message: str
    state: _common_pb2.IncidentState
    def __init__(self, incident_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., ok: _Optional[bool] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., state: _Optional[_Union[_common_pb2.IncidentState, str]] = ...) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ("status", "query", "page_size", "page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.AgentStatus
    query: str
    page_size: int
    page_token: str
    def __init__(self, status: _Optional[_Union[_common_pb2.AgentStatus, str]] = ..., query: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents", "next_page_token", "total_size")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[_common_pb2.Agent]
    next_page_token: str
    total_size: int
    def __init__(self, agents: _Optional[_Iterable[_Union[_common_pb2.Agent, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetAgentRequest(_message.Message):
    __slots__ = ("agent_id", "sample_limit")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    sample_limit: int
    def __init__(self, agent_id: _Optional[str] = ..., sample_limit: _Optional[int] = ...) -> None: ...

class GetAgentResponse(_message.Message):
    __slots__ = ("agent", "samples", "baselines", "incidents", "memory")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    BASELINES_FIELD_NUMBER: _ClassVar[int]
    INCIDENTS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    agent: _common_pb2.Agent
    samples: _containers.RepeatedCompositeFieldContainer[_common_pb2.VitalSample]
    baselines: _containers.RepeatedCompositeFieldContainer[_common_pb2.Baseline]
    incidents: _containers.RepeatedCompositeFieldContainer[_common_pb2.Incident]
    memory: _containers.RepeatedCompositeFieldContainer[_common_pb2.MemoryEntry]
    def __init__(self, agent: _Optional[_Union[_common_pb2.Agent, _Mapping]] = ..., samples: _Optional[_Iterable[_Union[_common_pb2.VitalSample, _Mapping]]] = ..., baselines: _Optional[_Iterable[_Union[_common_pb2.Baseline, _Mapping]]] = ..., incidents: _Optional[_Iterable[_Union[_common_pb2.Incident, _Mapping]]] = ..., memory: _Optional[_Iterable[_Union[_common_pb2.MemoryEntry, _Mapping]]] = ...) -> None: ...

class ListIncidentsRequest(_message.Message):
    __slots__ = ("states", "agent_id", "page_size", "page_token")
    STATES_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[_common_pb2.IncidentState]
    agent_id: str
    page_size: int
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[_common_pb2.IncidentState, str]]] = ..., agent_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListIncidentsResponse(_message.Message):
    __slots__ = ("incidents", "next_page_token", "total_size")
    INCIDENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    incidents: _containers.RepeatedCompositeFieldContainer[_common_pb2.Incident]
    next_page_token: str
    total_size: int
    def __init__(self, incidents: _Optional[_Iterable[_Union[_common_pb2.Incident, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetIncidentRequest(_message.Message):
    __slots__ = ("incident_id",)
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    def __init__(self, incident_id: _Optional[str] = ...) -> None: ...

class GetIncidentResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: _common_pb2.Incident
    def __init__(self, incident: _Optional[_Union[_common_pb2.Incident, _Mapping]] = ...) -> None: ...

class ApproveHealingRequest(_message.Message):
    __slots__ = ("target", "reason")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    target: Target
    reason: str
    def __init__(self, target: _Optional[_Union[Target, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class ApproveHealingResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: _common_pb2.Incident
    def __init__(self, incident: _Optional[_Union[_common_pb2.Incident, _Mapping]] = ...) -> None: ...

class RejectHealingRequest(_message.Message):
    __slots__ = ("target", "reason")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    target: Target
    reason: str
    def __init__(self, target: _Optional[_Union[Target, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectHealingResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: _common_pb2.Incident
    def __init__(self, incident: _Optional[_Union[_common_pb2.Incident, _Mapping]] = ...) -> None: ...

class HealNowRequest(_message.Message):
    __slots__ = ("target", "reason", "action")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    target: Target
    reason: str
    action: _common_pb2.Action
    def __init__(self, target: _Optional[_Union[Target, _Mapping]] = ..., reason: _Optional[str] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ...) -> None: ...

class HealNowResponse(_message.Message):
    __slots__ = ("incident",)
    INCIDENT_FIELD_NUMBER: _ClassVar[int]
    incident: _common_pb2.Incident
    def __init__(self, incident: _Optional[_Union[_common_pb2.Incident, _Mapping]] = ...) -> None: ...

class ApproveAllRequest(_message.Message):
    __slots__ = ("reason", "agent_ids")
    REASON_FIELD_NUMBER: _ClassVar[int]
    AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    reason: str
    agent_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reason: _Optional[str] = ..., agent_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ApproveAllResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BulkResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BulkResult, _Mapping]]] = ...) -> None: ...

class RejectAllRequest(_message.Message):
    __slots__ = ("reason", "agent_ids")
    REASON_FIELD_NUMBER: _ClassVar[int]
    AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    reason: str
    agent_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reason: _Optional[str] = ..., agent_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RejectAllResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BulkResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BulkResult, _Mapping]]] = ...) -> None: ...

class HealAllRequest(_message.Message):
    __slots__ = ("reason", "agent_ids")
    REASON_FIELD_NUMBER: _ClassVar[int]
    AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    reason: str
    agent_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reason: _Optional[str] = ..., agent_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class HealAllResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BulkResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BulkResult, _Mapping]]] = ...) -> None: ...

class GetHealingLogRequest(_message.Message):
    __slots__ = ("agent_id", "incident_id", "page_size", "page_token")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    incident_id: str
    page_size: int
    page_token: str
    def __init__(self, agent_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetHealingLogResponse(_message.Message):
    __slots__ = ("actions", "next_page_token")
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    actions: _containers.RepeatedCompositeFieldContainer[_common_pb2.HealingAction]
    next_page_token: str
    def __init__(self, actions: _Optional[_Iterable[_Union[_common_pb2.HealingAction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetImmuneMemoryRequest(_message.Message):
    __slots__ = ("agent_id", "diagnosis")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    diagnosis: _common_pb2.Diagnosis
    def __init__(self, agent_id: _Optional[str] = ..., diagnosis: _Optional[_Union[_common_pb2.Diagnosis, str]] = ...) -> None: ...

class GetImmuneMemoryResponse(_message.Message):
    __slots__ = ("fleet", "agent")
    FLEET_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    fleet: _containers.RepeatedCompositeFieldContainer[_common_pb2.MemoryEntry]
    agent: _containers.RepeatedCompositeFieldContainer[_common_pb2.MemoryEntry]
    def __init__(self, fleet: _Optional[_Iterable[_Union[_common_pb2.MemoryEntry, _Mapping]]] = ..., agent: _Optional[_Iterable[_Union[_common_pb2.MemoryEntry, _Mapping]]] = ...) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[_common_pb2.Policy]
    def __init__(self, policies: _Optional[_Iterable[_Union[_common_pb2.Policy, _Mapping]]] = ...) -> None: ...

class UpsertPolicyRequest(_message.Message):
    __slots__ = ("policy", "reason")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    policy: _common_pb2.Policy
    reason: str
    def __init__(self, policy: _Optional[_Union[_common_pb2.Policy, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class UpsertPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: _common_pb2.Policy
    def __init__(self, policy: _Optional[_Union[_common_pb2.Policy, _Mapping]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("agents_total", "agents_by_status", "samples_total", "infections_total", "incidents_open", "healed_total", "success_rate", "pending_approvals", "rejected", "uptime", "sidecars_connected", "last_event_sequence")
    class AgentsByStatusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    AGENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    AGENTS_BY_STATUS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    INFECTIONS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    INCIDENTS_OPEN_FIELD_NUMBER: _ClassVar[int]
    HEALED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    PENDING_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    SIDECARS_CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    agents_total: int
    agents_by_status: _containers.ScalarMap[str, int]
    samples_total: int
    infections_total: int
    incidents_open: int
    healed_total: int
    success_rate: float
    pending_approvals: int
    rejected: int
    uptime: _duration_pb2.Duration
    sidecars_connected: int
    last_event_sequence: int
    def __init__(self, agents_total: _Optional[int] = ..., agents_by_status: _Optional[_Mapping[str, int]] = ..., samples_total: _Optional[int] = ..., infections_total: _Optional[int] = ..., incidents_open: _Optional[int] = ..., healed_total: _Optional[int] = ..., success_rate: _Optional[float] = ..., pending_approvals: _Optional[int] = ..., rejected: _Optional[int] = ..., uptime: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., sidecars_connected: _Optional[int] = ..., last_event_sequence: _Optional[int] = ...) -> None: ...

class RecordFeedbackRequest(_message.Message):
    __slots__ = ("incident_id", "false_positive", "true_cause", "reason")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    TRUE_CAUSE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    false_positive: bool
    true_cause: _common_pb2.Diagnosis
    reason: str
    def __init__(self, incident_id: _Optional[str] = ..., false_positive: _Optional[bool] = ..., true_cause: _Optional[_Union[_common_pb2.Diagnosis, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class RecordFeedbackResponse(_message.Message):
    __slots__ = ("feedback",)
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    feedback: _common_pb2.Feedback
    def __init__(self, feedback: _Optional[_Union[_common_pb2.Feedback, _Mapping]] = ...) -> None: ...

class ListAuditEntriesRequest(_message.Message):
    __slots__ = ("actor", "page_size", "page_token")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    actor: str
    page_size: int
    page_token: str
    def __init__(self, actor: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_common_pb2.AuditEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_common_pb2.AuditEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetCallerRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCallerResponse(_message.Message):
    __slots__ = ("actor", "role")
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    actor: str
    role: _common_pb2.Role
    def __init__(self, actor: _Optional[str] = ..., role: _Optional[_Union[_common_pb2.Role, str]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("after_sequence", "agent_id")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    agent_id: str
    def __init__(self, after_sequence: _Optional[int] = ..., agent_id: _Optional[str] = ...) -> None: ...

class WatchEventsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _common_pb2.Event
    def __init__(self, event: _Optional[_Union[_common_pb2.Event, _Mapping]] = ...) -> None: ...
