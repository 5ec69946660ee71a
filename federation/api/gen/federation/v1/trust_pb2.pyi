# Generated from protos/federation/v1/trust.proto by tools.protogen (grpcio-tools 1.85.1); run `make protos`.
import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InitRootRequest(_message.Message):
    __slots__ = ("algorithm", "validity_days")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    validity_days: int
    def __init__(self, algorithm: _Optional[str] = ..., validity_days: _Optional[int] = ...) -> None: ...

class InitRootResponse(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: Root
    def __init__(self, root: _Optional[_Union[Root, _Mapping]] = ...) -> None: ...

class ImportRootRequest(_message.Message):
    __slots__ = ("cert_pem", "key_pem")
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    cert_pem: str
    key_pem: str
    def __init__(self, cert_pem: _Optional[str] = ..., key_pem: _Optional[str] = ...) -> None: ...

class ImportRootResponse(_message.Message):
    __slots__ = ("root",)
    ROOT_FIELD_NUMBER: _ClassVar[int]
    root: Root
    def __init__(self, root: _Optional[_Union[Root, _Mapping]] = ...) -> None: ...

class StartRotationRequest(_message.Message):
    __slots__ = ("algorithm", "validity_days", "cert_pem", "key_pem")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    CERT_PEM_FIELD_NUMBER: _ClassVar[int]
    KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    validity_days: int
    cert_pem: str
    key_pem: str
    def __init__(self, algorithm: _Optional[str] = ..., validity_days: _Optional[int] = ..., cert_pem: _Optional[str] = ..., key_pem: _Optional[str] = ...) -> None: ...

class StartRotationResponse(_message.Message):
    __slots__ = ("rotation",)
    ROTATION_FIELD_NUMBER: _ClassVar[int]
    rotation: Rotation
    def __init__(self, rotation: _Optional[_Union[Rotation, _Mapping]] = ...) -> None: ...

class TrustStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Root(_message.Message):
    __slots__ = ("id", "fingerprint", "subject", "not_before", "not_after", "algorithm", "role", "imported")
    ID_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    id: str
    fingerprint: str
    subject: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    algorithm: str
    role: str
    imported: bool
    def __init__(self, id: _Optional[str] = ..., fingerprint: _Optional[str] = ..., subject: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., algorithm: _Optional[str] = ..., role: _Optional[str] = ..., imported: _Optional[bool] = ...) -> None: ...

class Intermediate(_message.Message):
    __slots__ = ("cluster", "issuer_root", "fingerprint", "subject", "not_before", "not_after", "renew_at", "up_to_date", "confirmed_step")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    ISSUER_ROOT_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    RENEW_AT_FIELD_NUMBER: _ClassVar[int]
    UP_TO_DATE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_STEP_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    issuer_root: str
    fingerprint: str
    subject: str
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    renew_at: _timestamp_pb2.Timestamp
    up_to_date: bool
    confirmed_step: int
    def __init__(self, cluster: _Optional[str] = ..., issuer_root: _Optional[str] = ..., fingerprint: _Optional[str] = ..., subject: _Optional[str] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., renew_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., up_to_date: _Optional[bool] = ..., confirmed_step: _Optional[int] = ...) -> None: ...

class Rotation(_message.Message):
    __slots__ = ("step", "step_name", "rotation_id", "current_root", "new_root", "previous_root", "bundle", "pending_clusters", "pending_agents", "complete", "soak_seconds", "soak_left_seconds", "clusters", "waiting_for", "intermediate_check")
    STEP_FIELD_NUMBER: _ClassVar[int]
    STEP_NAME_FIELD_NUMBER: _ClassVar[int]
    ROTATION_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENT_ROOT_FIELD_NUMBER: _ClassVar[int]
    NEW_ROOT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ROOT_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    PENDING_CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    PENDING_AGENTS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    SOAK_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOAK_LEFT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_CHECK_FIELD_NUMBER: _ClassVar[int]
    step: int
    step_name: str
    rotation_id: str
    current_root: str
    new_root: str
    previous_root: str
    bundle: _containers.RepeatedScalarFieldContainer[str]
    pending_clusters: _containers.RepeatedScalarFieldContainer[str]
    pending_agents: _containers.RepeatedScalarFieldContainer[str]
    complete: bool
    soak_seconds: float
    soak_left_seconds: float
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterGate]
    waiting_for: _containers.RepeatedScalarFieldContainer[str]
    intermediate_check: str
    def __init__(self, step: _Optional[int] = ..., step_name: _Optional[str] = ..., rotation_id: _Optional[str] = ..., current_root: _Optional[str] = ..., new_root: _Optional[str] = ..., previous_root: _Optional[str] = ..., bundle: _Optional[_Iterable[str]] = ..., pending_clusters: _Optional[_Iterable[str]] = ..., pending_agents: _Optional[_Iterable[str]] = ..., complete: _Optional[bool] = ..., soak_seconds: _Optional[float] = ..., soak_left_seconds: _Optional[float] = ..., clusters: _Optional[_Iterable[_Union[ClusterGate, _Mapping]]] = ..., waiting_for: _Optional[_Iterable[str]] = ..., intermediate_check: _Optional[str] = ...) -> None: ...

class ClusterGate(_message.Message):
    __slots__ = ("cluster", "confirmed", "waiting_for", "published_roots", "cacerts_written", "signing_intermediate", "intermediate_note")
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    WAITING_FOR_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_ROOTS_FIELD_NUMBER: _ClassVar[int]
    CACERTS_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    SIGNING_INTERMEDIATE_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_NOTE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    confirmed: bool
    waiting_for: str
    published_roots: _containers.RepeatedScalarFieldContainer[str]
    cacerts_written: bool
    signing_intermediate: str
    intermediate_note: str
    def __init__(self, cluster: _Optional[str] = ..., confirmed: _Optional[bool] = ..., waiting_for: _Optional[str] = ..., published_roots: _Optional[_Iterable[str]] = ..., cacerts_written: _Optional[bool] = ..., signing_intermediate: _Optional[str] = ..., intermediate_note: _Optional[str] = ...) -> None: ...

class TrustStatus(_message.Message):
    __slots__ = ("initialized", "trust_domain", "roots", "intermediates", "workload_intermediate", "rotation")
    INITIALIZED_FIELD_NUMBER: _ClassVar[int]
    TRUST_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ROOTS_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATES_FIELD_NUMBER: _ClassVar[int]
    WORKLOAD_INTERMEDIATE_FIELD_NUMBER: _ClassVar[int]
    ROTATION_FIELD_NUMBER: _ClassVar[int]
    initialized: bool
    trust_domain: str
    roots: _containers.RepeatedCompositeFieldContainer[Root]
    intermediates: _containers.RepeatedCompositeFieldContainer[Intermediate]
    workload_intermediate: Intermediate
    rotation: Rotation
    def __init__(self, initialized: _Optional[bool] = ..., trust_domain: _Optional[str] = ..., roots: _Optional[_Iterable[_Union[Root, _Mapping]]] = ..., intermediates: _Optional[_Iterable[_Union[Intermediate, _Mapping]]] = ..., workload_intermediate: _Optional[_Union[Intermediate, _Mapping]] = ..., rotation: _Optional[_Union[Rotation, _Mapping]] = ...) -> None: ...
