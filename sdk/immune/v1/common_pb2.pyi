import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AGENT_STATUS_UNSPECIFIED: _ClassVar[AgentStatus]
    AGENT_STATUS_LEARNING: _ClassVar[AgentStatus]
    AGENT_STATUS_HEALTHY: _ClassVar[AgentStatus]
    AGENT_STATUS_QUARANTINED: _ClassVar[AgentStatus]
    AGENT_STATUS_HEALING: _ClassVar[AgentStatus]
    AGENT_STATUS_PROBATION: _ClassVar[AgentStatus]
    AGENT_STATUS_UNREACHABLE: _ClassVar[AgentStatus]

class AnomalyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANOMALY_TYPE_UNSPECIFIED: _ClassVar[AnomalyType]
    ANOMALY_TYPE_TOKEN_SPIKE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_INPUT_TOKEN_SPIKE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_OUTPUT_TOKEN_SPIKE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_LATENCY_SPIKE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_TOOL_EXPLOSION: _ClassVar[AnomalyType]
    ANOMALY_TYPE_HIGH_RETRY_RATE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_ERROR_RATE_SPIKE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_COST_SPIKE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_PROMPT_CHANGE: _ClassVar[AnomalyType]
    ANOMALY_TYPE_CALL_RATE_SPIKE: _ClassVar[AnomalyType]

class Diagnosis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIAGNOSIS_UNSPECIFIED: _ClassVar[Diagnosis]
    DIAGNOSIS_PROMPT_DRIFT: _ClassVar[Diagnosis]
    DIAGNOSIS_PROMPT_INJECTION: _ClassVar[Diagnosis]
    DIAGNOSIS_INFINITE_LOOP: _ClassVar[Diagnosis]
    DIAGNOSIS_TOOL_INSTABILITY: _ClassVar[Diagnosis]
    DIAGNOSIS_MEMORY_CORRUPTION: _ClassVar[Diagnosis]
    DIAGNOSIS_COST_OVERRUN: _ClassVar[Diagnosis]
    DIAGNOSIS_EXTERNAL_CAUSE: _ClassVar[Diagnosis]
    DIAGNOSIS_UNKNOWN: _ClassVar[Diagnosis]

class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_UNSPECIFIED: _ClassVar[Action]
    ACTION_RESET_MEMORY: _ClassVar[Action]
    ACTION_ROLLBACK_PROMPT: _ClassVar[Action]
    ACTION_REDUCE_AUTONOMY: _ClassVar[Action]
    ACTION_REVOKE_TOOLS: _ClassVar[Action]
    ACTION_RESET_AGENT: _ClassVar[Action]
    ACTION_CLONE_AGENT: _ClassVar[Action]

class IncidentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INCIDENT_STATE_UNSPECIFIED: _ClassVar[IncidentState]
    INCIDENT_STATE_DETECTED: _ClassVar[IncidentState]
    INCIDENT_STATE_QUARANTINED: _ClassVar[IncidentState]
    INCIDENT_STATE_PENDING_APPROVAL: _ClassVar[IncidentState]
    INCIDENT_STATE_HEALING: _ClassVar[IncidentState]
    INCIDENT_STATE_PROBATION: _ClassVar[IncidentState]
    INCIDENT_STATE_HEALED: _ClassVar[IncidentState]
    INCIDENT_STATE_REJECTED: _ClassVar[IncidentState]
    INCIDENT_STATE_EXPIRED: _ClassVar[IncidentState]
    INCIDENT_STATE_EXHAUSTED: _ClassVar[IncidentState]
    INCIDENT_STATE_DISMISSED: _ClassVar[IncidentState]
    INCIDENT_STATE_MERGED: _ClassVar[IncidentState]

class Trigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_UNSPECIFIED: _ClassVar[Trigger]
    TRIGGER_AUTO: _ClassVar[Trigger]
    TRIGGER_APPROVAL: _ClassVar[Trigger]
    TRIGGER_HEAL_NOW: _ClassVar[Trigger]
    TRIGGER_EXPIRY: _ClassVar[Trigger]

class ActionOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_OUTCOME_UNSPECIFIED: _ClassVar[ActionOutcome]
    ACTION_OUTCOME_PENDING: _ClassVar[ActionOutcome]
    ACTION_OUTCOME_APPLIED: _ClassVar[ActionOutcome]
    ACTION_OUTCOME_SUCCEEDED: _ClassVar[ActionOutcome]
    ACTION_OUTCOME_FAILED: _ClassVar[ActionOutcome]
    ACTION_OUTCOME_REINFECTED: _ClassVar[ActionOutcome]
    ACTION_OUTCOME_TIMED_OUT: _ClassVar[ActionOutcome]
    ACTION_OUTCOME_CANCELLED: _ClassVar[ActionOutcome]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_VIEWER: _ClassVar[Role]
    ROLE_OPERATOR: _ClassVar[Role]
    ROLE_AUTOMATION: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
AGENT_STATUS_UNSPECIFIED: AgentStatus
AGENT_STATUS_LEARNING: AgentStatus
AGENT_STATUS_HEALTHY: AgentStatus
AGENT_STATUS_QUARANTINED: AgentStatus
AGENT_STATUS_HEALING: AgentStatus
AGENT_STATUS_PROBATION: AgentStatus
AGENT_STATUS_UNREACHABLE: AgentStatus
ANOMALY_TYPE_UNSPECIFIED: AnomalyType
ANOMALY_TYPE_TOKEN_SPIKE: AnomalyType
ANOMALY_TYPE_INPUT_TOKEN_SPIKE: AnomalyType
ANOMALY_TYPE_OUTPUT_TOKEN_SPIKE: AnomalyType
ANOMALY_TYPE_LATENCY_SPIKE: AnomalyType
ANOMALY_TYPE_TOOL_EXPLOSION: AnomalyType
ANOMALY_TYPE_HIGH_RETRY_RATE: AnomalyType
ANOMALY_TYPE_ERROR_RATE_SPIKE: AnomalyType
ANOMALY_TYPE_COST_SPIKE: AnomalyType
ANOMALY_TYPE_PROMPT_CHANGE: AnomalyType
ANOMALY_TYPE_CALL_RATE_SPIKE: AnomalyType
DIAGNOSIS_UNSPECIFIED: Diagnosis
DIAGNOSIS_PROMPT_DRIFT: Diagnosis
DIAGNOSIS_PROMPT_INJECTION: Diagnosis
DIAGNOSIS_INFINITE_LOOP: Diagnosis
DIAGNOSIS_TOOL_INSTABILITY: Diagnosis
DIAGNOSIS_MEMORY_CORRUPTION: Diagnosis
DIAGNOSIS_COST_OVERRUN: Diagnosis
DIAGNOSIS_EXTERNAL_CAUSE: Diagnosis
DIAGNOSIS_UNKNOWN: Diagnosis
ACTION_UNSPECIFIED: Action
ACTION_RESET_MEMORY: Action
ACTION_ROLLBACK_PROMPT: Action
ACTION_REDUCE_AUTONOMY: Action
ACTION_REVOKE_TOOLS: Action
ACTION_RESET_AGENT: Action
ACTION_CLONE_AGENT: Action
INCIDENT_STATE_UNSPECIFIED: IncidentState
INCIDENT_STATE_DETECTED: IncidentState
INCIDENT_STATE_QUARANTINED: IncidentState
INCIDENT_STATE_PENDING_APPROVAL: IncidentState
INCIDENT_STATE_HEALING: IncidentState
INCIDENT_STATE_PROBATION: IncidentState
INCIDENT_STATE_HEALED: IncidentState
INCIDENT_STATE_REJECTED: IncidentState
INCIDENT_STATE_EXPIRED: IncidentState
INCIDENT_STATE_EXHAUSTED: IncidentState
INCIDENT_STATE_DISMISSED: IncidentState
INCIDENT_STATE_MERGED: IncidentState
TRIGGER_UNSPECIFIED: Trigger
TRIGGER_AUTO: Trigger
TRIGGER_APPROVAL: Trigger
TRIGGER_HEAL_NOW: Trigger
TRIGGER_EXPIRY: Trigger
ACTION_OUTCOME_UNSPECIFIED: ActionOutcome
ACTION_OUTCOME_PENDING: ActionOutcome
ACTION_OUTCOME_APPLIED: ActionOutcome
ACTION_OUTCOME_SUCCEEDED: ActionOutcome
ACTION_OUTCOME_FAILED: ActionOutcome
ACTION_OUTCOME_REINFECTED: ActionOutcome
ACTION_OUTCOME_TIMED_OUT: ActionOutcome
ACTION_OUTCOME_CANCELLED: ActionOutcome
ROLE_UNSPECIFIED: Role
ROLE_VIEWER: Role
ROLE_OPERATOR: Role
ROLE_AUTOMATION: Role
ROLE_ADMIN: Role

class Agent(_message.Message):
    __slots__ = ("id", "name", "model", "provider", "mcp_servers", "tools", "status", "sidecar_id", "first_seen_time", "last_seen_time", "open_incident_id", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_TIME_FIELD_NUMBER: _ClassVar[int]
    OPEN_INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    model: str
    provider: str
    mcp_servers: _containers.RepeatedScalarFieldContainer[str]
    tools: _containers.RepeatedScalarFieldContainer[str]
    status: AgentStatus
    sidecar_id: str
    first_seen_time: _timestamp_pb2.Timestamp
    last_seen_time: _timestamp_pb2.Timestamp
    open_incident_id: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., mcp_servers: _Optional[_Iterable[str]] = ..., tools: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[AgentStatus, str]] = ..., sidecar_id: _Optional[str] = ..., first_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., open_incident_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class VitalSample(_message.Message):
    __slots__ = ("agent_id", "time", "interval_seconds", "operations", "values", "prompt_hash")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_HASH_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    time: _timestamp_pb2.Timestamp
    interval_seconds: float
    operations: float
    values: _containers.ScalarMap[str, float]
    prompt_hash: str
    def __init__(self, agent_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., interval_seconds: _Optional[float] = ..., operations: _Optional[float] = ..., values: _Optional[_Mapping[str, float]] = ..., prompt_hash: _Optional[str] = ...) -> None: ...

class Baseline(_message.Message):
    __slots__ = ("vital", "mean", "stddev", "samples", "learned")
    VITAL_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    STDDEV_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    LEARNED_FIELD_NUMBER: _ClassVar[int]
    vital: str
    mean: float
    stddev: float
    samples: int
    learned: bool
    def __init__(self, vital: _Optional[str] = ..., mean: _Optional[float] = ..., stddev: _Optional[float] = ..., samples: _Optional[int] = ..., learned: _Optional[bool] = ...) -> None: ...

class Anomaly(_message.Message):
    __slots__ = ("type", "vital", "observed", "baseline", "sigma", "observed_label", "baseline_label")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VITAL_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    SIGMA_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_LABEL_FIELD_NUMBER: _ClassVar[int]
    BASELINE_LABEL_FIELD_NUMBER: _ClassVar[int]
    type: AnomalyType
    vital: str
    observed: float
    baseline: float
    sigma: float
    observed_label: str
    baseline_label: str
    def __init__(self, type: _Optional[_Union[AnomalyType, str]] = ..., vital: _Optional[str] = ..., observed: _Optional[float] = ..., baseline: _Optional[float] = ..., sigma: _Optional[float] = ..., observed_label: _Optional[str] = ..., baseline_label: _Optional[str] = ...) -> None: ...

class Infection(_message.Message):
    __slots__ = ("id", "agent_id", "sidecar_id", "detect_time", "severity", "anomalies", "evidence", "quarantined", "shared_shift")
    ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SIDECAR_ID_FIELD_NUMBER: _ClassVar[int]
    DETECT_TIME_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    SHARED_SHIFT_FIELD_NUMBER: _ClassVar[int]
    id: str
    agent_id: str
    sidecar_id: str
    detect_time: _timestamp_pb2.Timestamp
    severity: float
    anomalies: _containers.RepeatedCompositeFieldContainer[Anomaly]
    evidence: _containers.RepeatedCompositeFieldContainer[VitalSample]
    quarantined: bool
    shared_shift: bool
    def __init__(self, id: _Optional[str] = ..., agent_id: _Optional[str] = ..., sidecar_id: _Optional[str] = ..., detect_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., severity: _Optional[float] = ..., anomalies: _Optional[_Iterable[_Union[Anomaly, _Mapping]]] = ..., evidence: _Optional[_Iterable[_Union[VitalSample, _Mapping]]] = ..., quarantined: _Optional[bool] = ..., shared_shift: _Optional[bool] = ...) -> None: ...

class Hypothesis(_message.Message):
    __slots__ = ("diagnosis", "confidence", "evidence")
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    diagnosis: Diagnosis
    confidence: float
    evidence: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, diagnosis: _Optional[_Union[Diagnosis, str]] = ..., confidence: _Optional[float] = ..., evidence: _Optional[_Iterable[str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("sequence", "time", "kind", "incident_id", "agent_id", "actor", "reason", "from_state", "to_state", "message")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    kind: str
    incident_id: str
    agent_id: str
    actor: str
    reason: str
    from_state: IncidentState
    to_state: IncidentState
    message: str
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., incident_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., from_state: _Optional[_Union[IncidentState, str]] = ..., to_state: _Optional[_Union[IncidentState, str]] = ..., message: _Optional[str] = ...) -> None: ...

class HealingAction(_message.Message):
    __slots__ = ("id", "incident_id", "agent_id", "action", "diagnosis", "trigger", "outcome", "start_time", "finish_time", "detail", "actor", "dry_run", "attempt")
    ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    id: str
    incident_id: str
    agent_id: str
    action: Action
    diagnosis: Diagnosis
    trigger: Trigger
    outcome: ActionOutcome
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    detail: str
    actor: str
    dry_run: bool
    attempt: int
    def __init__(self, id: _Optional[str] = ..., incident_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., action: _Optional[_Union[Action, str]] = ..., diagnosis: _Optional[_Union[Diagnosis, str]] = ..., trigger: _Optional[_Union[Trigger, str]] = ..., outcome: _Optional[_Union[ActionOutcome, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ..., actor: _Optional[str] = ..., dry_run: _Optional[bool] = ..., attempt: _Optional[int] = ...) -> None: ...

class Feedback(_message.Message):
    __slots__ = ("incident_id", "false_positive", "true_cause", "actor", "reason", "time")
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    FALSE_POSITIVE_FIELD_NUMBER: _ClassVar[int]
    TRUE_CAUSE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    incident_id: str
    false_positive: bool
    true_cause: Diagnosis
    actor: str
    reason: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, incident_id: _Optional[str] = ..., false_positive: _Optional[bool] = ..., true_cause: _Optional[_Union[Diagnosis, str]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Incident(_message.Message):
    __slots__ = ("id", "agent_id", "state", "severity", "anomalies", "hypotheses", "diagnosis", "actions", "timeline", "evidence", "detect_time", "update_time", "approval_expire_time", "fleet", "affected_agent_ids", "quarantine_waived", "feedback", "waived_agent_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    ANOMALIES_FIELD_NUMBER: _ClassVar[int]
    HYPOTHESES_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    DETECT_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    FLEET_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_WAIVED_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    WAIVED_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    agent_id: str
    state: IncidentState
    severity: float
    anomalies: _containers.RepeatedCompositeFieldContainer[Anomaly]
    hypotheses: _containers.RepeatedCompositeFieldContainer[Hypothesis]
    diagnosis: Diagnosis
    actions: _containers.RepeatedCompositeFieldContainer[HealingAction]
    timeline: _containers.RepeatedCompositeFieldContainer[Event]
    evidence: _containers.RepeatedCompositeFieldContainer[VitalSample]
    detect_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    approval_expire_time: _timestamp_pb2.Timestamp
    fleet: bool
    affected_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    quarantine_waived: bool
    feedback: Feedback
    waived_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., agent_id: _Optional[str] = ..., state: _Optional[_Union[IncidentState, str]] = ..., severity: _Optional[float] = ..., anomalies: _Optional[_Iterable[_Union[Anomaly, _Mapping]]] = ..., hypotheses: _Optional[_Iterable[_Union[Hypothesis, _Mapping]]] = ..., diagnosis: _Optional[_Union[Diagnosis, str]] = ..., actions: _Optional[_Iterable[_Union[HealingAction, _Mapping]]] = ..., timeline: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., evidence: _Optional[_Iterable[_Union[VitalSample, _Mapping]]] = ..., detect_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., approval_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fleet: _Optional[bool] = ..., affected_agent_ids: _Optional[_Iterable[str]] = ..., quarantine_waived: _Optional[bool] = ..., feedback: _Optional[_Union[Feedback, _Mapping]] = ..., waived_agent_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("diagnosis", "actions", "update_actor", "update_time")
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_ACTOR_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    diagnosis: Diagnosis
    actions: _containers.RepeatedScalarFieldContainer[Action]
    update_actor: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, diagnosis: _Optional[_Union[Diagnosis, str]] = ..., actions: _Optional[_Iterable[_Union[Action, str]]] = ..., update_actor: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MemoryEntry(_message.Message):
    __slots__ = ("agent_id", "diagnosis", "action", "attempts", "successes", "success_rate", "last_attempt_time")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSIS_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSES_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    LAST_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    diagnosis: Diagnosis
    action: Action
    attempts: int
    successes: int
    success_rate: float
    last_attempt_time: _timestamp_pb2.Timestamp
    def __init__(self, agent_id: _Optional[str] = ..., diagnosis: _Optional[_Union[Diagnosis, str]] = ..., action: _Optional[_Union[Action, str]] = ..., attempts: _Optional[int] = ..., successes: _Optional[int] = ..., success_rate: _Optional[float] = ..., last_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AuditEntry(_message.Message):
    __slots__ = ("sequence", "time", "actor", "role", "method", "target", "reason", "result")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    actor: str
    role: Role
    method: str
    target: str
    reason: str
    result: str
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., method: _Optional[str] = ..., target: _Optional[str] = ..., reason: _Optional[str] = ..., result: _Optional[str] = ...) -> None: ...

class ProbationWindow(_message.Message):
    __slots__ = ("samples", "timeout")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    samples: int
    timeout: _duration_pb2.Duration
    def __init__(self, samples: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...
