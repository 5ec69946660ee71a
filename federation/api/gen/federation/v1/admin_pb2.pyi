# Generated from protos/federation/v1/admin.proto by tools.protogen (grpcio-tools 1.85.1); run `make protos`.
import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Cluster(_message.Message):
    __slots__ = ("name", "network", "region", "server", "state", "gateways", "istiod_ca", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    SERVER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    GATEWAYS_FIELD_NUMBER: _ClassVar[int]
    ISTIOD_CA_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    network: str
    region: str
    server: str
    state: str
    gateways: _containers.RepeatedScalarFieldContainer[str]
    istiod_ca: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., network: _Optional[str] = ..., region: _Optional[str] = ..., server: _Optional[str] = ..., state: _Optional[str] = ..., gateways: _Optional[_Iterable[str]] = ..., istiod_ca: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RegisterClusterRequest(_message.Message):
    __slots__ = ("name", "kubeconfig", "network", "region", "istiod_ca", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    KUBECONFIG_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    ISTIOD_CA_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kubeconfig: str
    network: str
    region: str
    istiod_ca: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., kubeconfig: _Optional[str] = ..., network: _Optional[str] = ..., region: _Optional[str] = ..., istiod_ca: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class LabelClusterRequest(_message.Message):
    __slots__ = ("name", "labels", "remove")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    name: str
    labels: _containers.ScalarMap[str, str]
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class ListClustersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListClustersResponse(_message.Message):
    __slots__ = ("clusters",)
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    clusters: _containers.RepeatedCompositeFieldContainer[Cluster]
    def __init__(self, clusters: _Optional[_Iterable[_Union[Cluster, _Mapping]]] = ...) -> None: ...

class RemoveClusterRequest(_message.Message):
    __slots__ = ("name", "force")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    force: bool
    def __init__(self, name: _Optional[str] = ..., force: _Optional[bool] = ...) -> None: ...

class RemoveClusterResponse(_message.Message):
    __slots__ = ("state", "deleted", "error", "left_behind")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    LEFT_BEHIND_FIELD_NUMBER: _ClassVar[int]
    state: str
    deleted: int
    error: str
    left_behind: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, state: _Optional[str] = ..., deleted: _Optional[int] = ..., error: _Optional[str] = ..., left_behind: _Optional[_Iterable[str]] = ...) -> None: ...

class ClusterEndpoints(_message.Message):
    __slots__ = ("cluster", "network", "ready_endpoints", "localities", "stale")
    class LocalitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    READY_ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    LOCALITIES_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    network: str
    ready_endpoints: int
    localities: _containers.ScalarMap[str, int]
    stale: bool
    def __init__(self, cluster: _Optional[str] = ..., network: _Optional[str] = ..., ready_endpoints: _Optional[int] = ..., localities: _Optional[_Mapping[str, int]] = ..., stale: _Optional[bool] = ...) -> None: ...

class FederatedService(_message.Message):
    __slots__ = ("namespace", "name", "clusters", "exported_from", "imported_to", "import_selectors")
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_FROM_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_TO_FIELD_NUMBER: _ClassVar[int]
    IMPORT_SELECTORS_FIELD_NUMBER: _ClassVar[int]
    namespace: str
    name: str
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterEndpoints]
    exported_from: _containers.RepeatedScalarFieldContainer[str]
    imported_to: _containers.RepeatedScalarFieldContainer[str]
    import_selectors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, namespace: _Optional[str] = ..., name: _Optional[str] = ..., clusters: _Optional[_Iterable[_Union[ClusterEndpoints, _Mapping]]] = ..., exported_from: _Optional[_Iterable[str]] = ..., imported_to: _Optional[_Iterable[str]] = ..., import_selectors: _Optional[_Iterable[str]] = ...) -> None: ...

class ListServicesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListServicesResponse(_message.Message):
    __slots__ = ("services",)
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    services: _containers.RepeatedCompositeFieldContainer[FederatedService]
    def __init__(self, services: _Optional[_Iterable[_Union[FederatedService, _Mapping]]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ClusterStatus(_message.Message):
    __slots__ = ("name", "network", "region", "state", "synced", "last_push", "objects", "error", "stale", "conflicts", "fights", "owner", "gateway", "gateway_unreachable_since")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SYNCED_FIELD_NUMBER: _ClassVar[int]
    LAST_PUSH_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STALE_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    FIGHTS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_UNREACHABLE_SINCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    network: str
    region: str
    state: str
    synced: bool
    last_push: _timestamp_pb2.Timestamp
    objects: int
    error: str
    stale: bool
    conflicts: _containers.RepeatedScalarFieldContainer[str]
    fights: _containers.RepeatedScalarFieldContainer[str]
    owner: str
    gateway: str
    gateway_unreachable_since: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., network: _Optional[str] = ..., region: _Optional[str] = ..., state: _Optional[str] = ..., synced: _Optional[bool] = ..., last_push: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., objects: _Optional[int] = ..., error: _Optional[str] = ..., stale: _Optional[bool] = ..., conflicts: _Optional[_Iterable[str]] = ..., fights: _Optional[_Iterable[str]] = ..., owner: _Optional[str] = ..., gateway: _Optional[str] = ..., gateway_unreachable_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HubStatus(_message.Message):
    __slots__ = ("version", "store_backend", "clusters", "federated_services", "snapshot_version", "store_health", "hub_id", "gateway_note")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STORE_BACKEND_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    FEDERATED_SERVICES_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    STORE_HEALTH_FIELD_NUMBER: _ClassVar[int]
    HUB_ID_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_NOTE_FIELD_NUMBER: _ClassVar[int]
    version: str
    store_backend: str
    clusters: _containers.RepeatedCompositeFieldContainer[ClusterStatus]
    federated_services: int
    snapshot_version: int
    store_health: str
    hub_id: str
    gateway_note: str
    def __init__(self, version: _Optional[str] = ..., store_backend: _Optional[str] = ..., clusters: _Optional[_Iterable[_Union[ClusterStatus, _Mapping]]] = ..., federated_services: _Optional[int] = ..., snapshot_version: _Optional[int] = ..., store_health: _Optional[str] = ..., hub_id: _Optional[str] = ..., gateway_note: _Optional[str] = ...) -> None: ...

class ApplyResourcesRequest(_message.Message):
    __slots__ = ("yaml",)
    YAML_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    def __init__(self, yaml: _Optional[str] = ...) -> None: ...

class ApplyResourcesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, results: _Optional[_Iterable[str]] = ...) -> None: ...

class ResourceRef(_message.Message):
    __slots__ = ("api_version", "kind", "namespace", "name")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    kind: str
    namespace: str
    name: str
    def __init__(self, api_version: _Optional[str] = ..., kind: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteResourcesRequest(_message.Message):
    __slots__ = ("yaml", "ref")
    YAML_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    ref: ResourceRef
    def __init__(self, yaml: _Optional[str] = ..., ref: _Optional[_Union[ResourceRef, _Mapping]] = ...) -> None: ...

class DeleteResourcesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, results: _Optional[_Iterable[str]] = ...) -> None: ...

class ListResourcesRequest(_message.Message):
    __slots__ = ("kind",)
    KIND_FIELD_NUMBER: _ClassVar[int]
    kind: str
    def __init__(self, kind: _Optional[str] = ...) -> None: ...

class ListResourcesResponse(_message.Message):
    __slots__ = ("yaml",)
    YAML_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    def __init__(self, yaml: _Optional[str] = ...) -> None: ...

class RenderRequest(_message.Message):
    __slots__ = ("cluster",)
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    def __init__(self, cluster: _Optional[str] = ...) -> None: ...

class RenderResponse(_message.Message):
    __slots__ = ("yaml",)
    YAML_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    def __init__(self, yaml: _Optional[str] = ...) -> None: ...

class DiffRequest(_message.Message):
    __slots__ = ("cluster",)
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    cluster: str
    def __init__(self, cluster: _Optional[str] = ...) -> None: ...

class ObjectDiff(_message.Message):
    __slots__ = ("api_version", "kind", "namespace", "name", "action", "live_yaml", "desired_yaml")
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    LIVE_YAML_FIELD_NUMBER: _ClassVar[int]
    DESIRED_YAML_FIELD_NUMBER: _ClassVar[int]
    api_version: str
    kind: str
    namespace: str
    name: str
    action: str
    live_yaml: str
    desired_yaml: str
    def __init__(self, api_version: _Optional[str] = ..., kind: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ..., action: _Optional[str] = ..., live_yaml: _Optional[str] = ..., desired_yaml: _Optional[str] = ...) -> None: ...

class DiffResponse(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectDiff]
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectDiff, _Mapping]]] = ...) -> None: ...
