import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from immune.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectRequest(_message.Message):
    __slots__ = ("message_id", "send_time", "hello", "ack", "agent_seen", "infection", "action_result", "probation_result", "health")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    HELLO_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    AGENT_SEEN_FIELD_NUMBER: _ClassVar[int]
    INFECTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_RESULT_FIELD_NUMBER: _ClassVar[int]
    PROBATION_RESULT_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    send_time: _timestamp_pb2.Timestamp
    hello: Hello
    ack: Ack
    agent_seen: AgentSeen
    infection: InfectionReport
    action_result: ActionResult
    probation_result: ProbationResult
    health: Health
    def __init__(self, message_id: _Optional[str] = ..., send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., hello: _Optional[_Union[Hello, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., agent_seen: _Optional[_Union[AgentSeen, _Mapping]] = ..., infection: _Optional[_Union[InfectionReport, _Mapping]] = ..., action_result: _Optional[_Union[ActionResult, _Mapping]] = ..., probation_result: _Optional[_Union[ProbationResult, _Mapping]] = ..., health: _Optional[_Union[Health, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("message_id", "send_time", "welcome", "ack", "quarantine", "release", "apply_action", "config_update", "refused")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    QUARANTINE_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    APPLY_ACTION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_UPDATE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    send_time: _timestamp_pb2.Timestamp
    welcome: Welcome
    ack: Ack
    quarantine: QuarantineCommand
    release: ReleaseCommand
    apply_action: ApplyActionCommand
    config_update: ConfigUpdate
    refused: Refused
    def __init__(self, message_id: _Optional[str] = ..., send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., welcome: _Optional[_Union[Welcome, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., quarantine: _Optional[_Union[QuarantineCommand, _Mapping]] = ..., release: _Optional[_Union[ReleaseCommand, _Mapping]] = ..., apply_action: _Optional[_Union[ApplyActionCommand, _Mapping]] = ..., config_update: _Optional[_Union[ConfigUpdate, _Mapping]] = ..., refused: _Optional[_Union[Refused, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("sidecar_id", "version", "agent_ids", "quarantined_agent_ids", "applied_command_ids")
    SIDECAR_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_AGENT_IDS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_COMMAND_IDS_FIELD_NUMBER: _ClassVar[int]
    sidecar_id: str
    version: str
    agent_ids: _containers.RepeatedScalarFieldContainer[str]
    quarantined_agent_ids: _containers.RepeatedScalarFieldContainer[str]
    applied_command_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sidecar_id: _Optional[str] = ..., version: _Optional[str] = ..., agent_ids: _Optional[_Iterable[str]] = ..., quarantined_agent_ids: _Optional[_Iterable[str]] = ..., applied_command_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("control_version", "session_id", "health_interval")
    CONTROL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HEALTH_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    control_version: str
    session_id: str
    health_interval: _duration_pb2.Duration
    def __init__(self, control_version: _Optional[str] = ..., session_id: _Optional[str] = ..., health_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("message_ids",)
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    message_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, message_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Refused(_message.Message):
    __slots__ = ("message_ids", "reason")
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    message_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, message_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class AgentSeen(_message.Message):
    __slots__ = ("agent",)
    AGENT_FIELD_NUMBER: _ClassVar[int]
    agent: _common_pb2.Agent
    def __init__(self, agent: _Optional[_Union[_common_pb2.Agent, _Mapping]] = ...) -> None: ...

class InfectionReport(_message.Message):
    __slots__ = ("infection",)
    INFECTION_FIELD_NUMBER: _ClassVar[int]
    infection: _common_pb2.Infection
    def __init__(self, infection: _Optional[_Union[_common_pb2.Infection, _Mapping]] = ...) -> None: ...

class ActionResult(_message.Message):
    __slots__ = ("command_id", "incident_id", "agent_id", "action_id", "action", "ok", "detail", "dry_run", "elapsed")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    incident_id: str
    agent_id: str
    action_id: str
    action: _common_pb2.Action
    ok: bool
    detail: str
    dry_run: bool
    elapsed: _duration_pb2.Duration
    def __init__(self, command_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., action_id: _Optional[str] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., ok: _Optional[bool] = ..., detail: _Optional[str] = ..., dry_run: _Optional[bool] = ..., elapsed: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ProbationResult(_message.Message):
    __slots__ = ("command_id", "incident_id", "agent_id", "healthy", "samples", "infection")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    INFECTION_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    incident_id: str
    agent_id: str
    healthy: bool
    samples: int
    infection: _common_pb2.Infection
    def __init__(self, command_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., healthy: _Optional[bool] = ..., samples: _Optional[int] = ..., infection: _Optional[_Union[_common_pb2.Infection, _Mapping]] = ...) -> None: ...

class Health(_message.Message):
    __slots__ = ("agents", "points_received", "points_refused")
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    POINTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    POINTS_REFUSED_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentVitals]
    points_received: int
    points_refused: int
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentVitals, _Mapping]]] = ..., points_received: _Optional[int] = ..., points_refused: _Optional[int] = ...) -> None: ...

class AgentVitals(_message.Message):
    __slots__ = ("agent_id", "status", "latest", "baselines", "samples_total")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    BASELINES_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    status: _common_pb2.AgentStatus
    latest: _common_pb2.VitalSample
    baselines: _containers.RepeatedCompositeFieldContainer[_common_pb2.Baseline]
    samples_total: int
    def __init__(self, agent_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.AgentStatus, str]] = ..., latest: _Optional[_Union[_common_pb2.VitalSample, _Mapping]] = ..., baselines: _Optional[_Iterable[_Union[_common_pb2.Baseline, _Mapping]]] = ..., samples_total: _Optional[int] = ...) -> None: ...

class QuarantineCommand(_message.Message):
    __slots__ = ("agent_id", "incident_id", "reason", "enforce")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ENFORCE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    incident_id: str
    reason: str
    enforce: bool
    def __init__(self, agent_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., reason: _Optional[str] = ..., enforce: _Optional[bool] = ...) -> None: ...

class ReleaseCommand(_message.Message):
    __slots__ = ("agent_id", "incident_id", "reason", "probation", "adopt_baseline")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PROBATION_FIELD_NUMBER: _ClassVar[int]
    ADOPT_BASELINE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    incident_id: str
    reason: str
    probation: _common_pb2.ProbationWindow
    adopt_baseline: bool
    def __init__(self, agent_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., reason: _Optional[str] = ..., probation: _Optional[_Union[_common_pb2.ProbationWindow, _Mapping]] = ..., adopt_baseline: _Optional[bool] = ...) -> None: ...

class ApplyActionCommand(_message.Message):
    __slots__ = ("agent_id", "incident_id", "action_id", "action", "dry_run", "timeout")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INCIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    incident_id: str
    action_id: str
    action: _common_pb2.Action
    dry_run: bool
    timeout: _duration_pb2.Duration
    def __init__(self, agent_id: _Optional[str] = ..., incident_id: _Optional[str] = ..., action_id: _Optional[str] = ..., action: _Optional[_Union[_common_pb2.Action, str]] = ..., dry_run: _Optional[bool] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ConfigUpdate(_message.Message):
    __slots__ = ("detection", "dry_run")
    class DetectionEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    DETECTION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    detection: _containers.ScalarMap[str, float]
    dry_run: bool
    def __init__(self, detection: _Optional[_Mapping[str, float]] = ..., dry_run: _Optional[bool] = ...) -> None: ...
