# Generated from protos/federation/v1/onboarding.proto by tools.protogen (grpcio-tools 1.85.1); run `make protos`.
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EnrollRequest(_message.Message):
    __slots__ = ("token", "csr_pem", "address", "hostname")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    token: str
    csr_pem: bytes
    address: str
    hostname: str
    def __init__(self, token: _Optional[str] = ..., csr_pem: _Optional[bytes] = ..., address: _Optional[str] = ..., hostname: _Optional[str] = ...) -> None: ...

class EnrollResponse(_message.Message):
    __slots__ = ("vm_name", "certificate_chain_pem", "trust_bundle_pem", "namespace", "service_account", "spiffe_id", "bootstrap", "heartbeat_interval_seconds", "session_port")
    VM_NAME_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    TRUST_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SPIFFE_ID_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SESSION_PORT_FIELD_NUMBER: _ClassVar[int]
    vm_name: str
    certificate_chain_pem: bytes
    trust_bundle_pem: bytes
    namespace: str
    service_account: str
    spiffe_id: str
    bootstrap: BootstrapConfig
    heartbeat_interval_seconds: int
    session_port: int
    def __init__(self, vm_name: _Optional[str] = ..., certificate_chain_pem: _Optional[bytes] = ..., trust_bundle_pem: _Optional[bytes] = ..., namespace: _Optional[str] = ..., service_account: _Optional[str] = ..., spiffe_id: _Optional[str] = ..., bootstrap: _Optional[_Union[BootstrapConfig, _Mapping]] = ..., heartbeat_interval_seconds: _Optional[int] = ..., session_port: _Optional[int] = ...) -> None: ...

class BootstrapConfig(_message.Message):
    __slots__ = ("cluster_env", "mesh_yaml", "hosts", "trust_domain", "network", "locality", "labels", "probe")
    class ClusterEnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLUSTER_ENV_FIELD_NUMBER: _ClassVar[int]
    MESH_YAML_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    TRUST_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    LOCALITY_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    cluster_env: _containers.ScalarMap[str, str]
    mesh_yaml: str
    hosts: str
    trust_domain: str
    network: str
    locality: str
    labels: _containers.ScalarMap[str, str]
    probe: HealthProbe
    def __init__(self, cluster_env: _Optional[_Mapping[str, str]] = ..., mesh_yaml: _Optional[str] = ..., hosts: _Optional[str] = ..., trust_domain: _Optional[str] = ..., network: _Optional[str] = ..., locality: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., probe: _Optional[_Union[HealthProbe, _Mapping]] = ...) -> None: ...

class HealthProbe(_message.Message):
    __slots__ = ("http_path", "port", "period_seconds", "timeout_seconds")
    HTTP_PATH_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    http_path: str
    port: int
    period_seconds: int
    timeout_seconds: int
    def __init__(self, http_path: _Optional[str] = ..., port: _Optional[int] = ..., period_seconds: _Optional[int] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...

class RenewRequest(_message.Message):
    __slots__ = ("csr_pem",)
    CSR_PEM_FIELD_NUMBER: _ClassVar[int]
    csr_pem: bytes
    def __init__(self, csr_pem: _Optional[bytes] = ...) -> None: ...

class RenewResponse(_message.Message):
    __slots__ = ("certificate_chain_pem", "trust_bundle_pem")
    CERTIFICATE_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    TRUST_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    certificate_chain_pem: bytes
    trust_bundle_pem: bytes
    def __init__(self, certificate_chain_pem: _Optional[bytes] = ..., trust_bundle_pem: _Optional[bytes] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("bundle_fingerprint", "healthy")
    BUNDLE_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    bundle_fingerprint: str
    healthy: bool
    def __init__(self, bundle_fingerprint: _Optional[str] = ..., healthy: _Optional[bool] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("next_heartbeat_seconds", "renew_now", "trust_bundle_pem")
    NEXT_HEARTBEAT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    RENEW_NOW_FIELD_NUMBER: _ClassVar[int]
    TRUST_BUNDLE_PEM_FIELD_NUMBER: _ClassVar[int]
    next_heartbeat_seconds: int
    renew_now: bool
    trust_bundle_pem: bytes
    def __init__(self, next_heartbeat_seconds: _Optional[int] = ..., renew_now: _Optional[bool] = ..., trust_bundle_pem: _Optional[bytes] = ...) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("group_namespace", "group_name", "ttl_seconds", "uses")
    GROUP_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    group_namespace: str
    group_name: str
    ttl_seconds: int
    uses: int
    def __init__(self, group_namespace: _Optional[str] = ..., group_name: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., uses: _Optional[int] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token", "token_id", "expires_unix")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_FIELD_NUMBER: _ClassVar[int]
    token: str
    token_id: str
    expires_unix: int
    def __init__(self, token: _Optional[str] = ..., token_id: _Optional[str] = ..., expires_unix: _Optional[int] = ...) -> None: ...

class ListVMsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VM(_message.Message):
    __slots__ = ("name", "group_namespace", "group_name", "address", "network", "spiffe_id", "alive", "last_heartbeat_unix", "certificate_expiry_unix", "revoked", "hostname", "certificate_serial", "healthy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    SPIFFE_ID_FIELD_NUMBER: _ClassVar[int]
    ALIVE_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_UNIX_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_EXPIRY_UNIX_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_SERIAL_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    name: str
    group_namespace: str
    group_name: str
    address: str
    network: str
    spiffe_id: str
    alive: bool
    last_heartbeat_unix: float
    certificate_expiry_unix: float
    revoked: bool
    hostname: str
    certificate_serial: str
    healthy: bool
    def __init__(self, name: _Optional[str] = ..., group_namespace: _Optional[str] = ..., group_name: _Optional[str] = ..., address: _Optional[str] = ..., network: _Optional[str] = ..., spiffe_id: _Optional[str] = ..., alive: _Optional[bool] = ..., last_heartbeat_unix: _Optional[float] = ..., certificate_expiry_unix: _Optional[float] = ..., revoked: _Optional[bool] = ..., hostname: _Optional[str] = ..., certificate_serial: _Optional[str] = ..., healthy: _Optional[bool] = ...) -> None: ...

class ListVMsResponse(_message.Message):
    __slots__ = ("vms",)
    VMS_FIELD_NUMBER: _ClassVar[int]
    vms: _containers.RepeatedCompositeFieldContainer[VM]
    def __init__(self, vms: _Optional[_Iterable[_Union[VM, _Mapping]]] = ...) -> None: ...

class RevokeVMRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeVMResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenInfo(_message.Message):
    __slots__ = ("token_id", "group_namespace", "group_name", "created_unix", "expires_unix", "uses_left", "revoked")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    GROUP_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_UNIX_FIELD_NUMBER: _ClassVar[int]
    USES_LEFT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    group_namespace: str
    group_name: str
    created_unix: float
    expires_unix: float
    uses_left: int
    revoked: bool
    def __init__(self, token_id: _Optional[str] = ..., group_namespace: _Optional[str] = ..., group_name: _Optional[str] = ..., created_unix: _Optional[float] = ..., expires_unix: _Optional[float] = ..., uses_left: _Optional[int] = ..., revoked: _Optional[bool] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenInfo]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenInfo, _Mapping]]] = ...) -> None: ...
