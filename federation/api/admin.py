"""The Admin service: checks each request's required fields, calls ``Control``
and converts the result. Errors raised here or by ``Control`` are turned into
status codes by the serving interceptor, not here."""

from __future__ import annotations

import yaml

from federation.api import converting
from federation.api.control import Control
from federation.api.gen.federation.v1 import admin_pb2 as pb
from federation.api.gen.federation.v1 import admin_pb2_grpc as pb_grpc
from federation.errors import ValidationError

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Admin"].full_name


class AdminServicer(pb_grpc.AdminServicer):
    def __init__(self, control: Control):
        self._control = control

    def RegisterCluster(self, request: pb.RegisterClusterRequest, context) -> pb.Cluster:
        _require(name=request.name, kubeconfig=request.kubeconfig)
        record = self._control.add_cluster(request.name, request.kubeconfig,
                                           network=request.network, region=request.region,
                                           istiod_ca=request.istiod_ca, labels=dict(request.labels))
        return converting.cluster_to_message(record)

    def LabelCluster(self, request: pb.LabelClusterRequest, context) -> pb.Cluster:
        _require(name=request.name)
        if not request.labels and not request.remove:
            raise ValidationError("labels or remove: give at least one label to set or remove")
        record = self._control.label_cluster(request.name, dict(request.labels), list(request.remove))
        return converting.cluster_to_message(record)

    def ListClusters(self, request, context) -> pb.ListClustersResponse:
        records = self._control.list_clusters()
        return pb.ListClustersResponse(clusters=[converting.cluster_to_message(r) for r in records])

    def RemoveCluster(self, request: pb.RemoveClusterRequest, context) -> pb.RemoveClusterResponse:
        _require(name=request.name)
        result = self._control.remove_cluster(request.name, force=request.force)
        return pb.RemoveClusterResponse(state=result.state, deleted=result.deleted, error=result.error,
                                        left_behind=list(result.left_behind))

    def ListServices(self, request, context) -> pb.ListServicesResponse:
        rows = self._control.list_services()
        return pb.ListServicesResponse(services=[converting.service_to_message(r) for r in rows])

    def Status(self, request, context) -> pb.HubStatus:
        return converting.status_to_message(self._control.status())

    def ApplyResources(self, request: pb.ApplyResourcesRequest, context) -> pb.ApplyResourcesResponse:
        _require(yaml=request.yaml.strip())
        return pb.ApplyResourcesResponse(results=self._control.apply_resources(request.yaml))

    def DeleteResources(self, request: pb.DeleteResourcesRequest, context) -> pb.DeleteResourcesResponse:
        target = request.WhichOneof("target")
        if target == "ref":
            text = ref_to_yaml(request.ref)
        else:
            _require(yaml=request.yaml.strip())
            text = request.yaml
        return pb.DeleteResourcesResponse(results=self._control.delete_resources(text))

    def ListResources(self, request: pb.ListResourcesRequest, context) -> pb.ListResourcesResponse:
        return pb.ListResourcesResponse(yaml=self._control.list_resources(request.kind))

    def Render(self, request: pb.RenderRequest, context) -> pb.RenderResponse:
        _require(cluster=request.cluster)
        return pb.RenderResponse(yaml=self._control.render(request.cluster))

    def Diff(self, request: pb.DiffRequest, context) -> pb.DiffResponse:
        _require(cluster=request.cluster)
        return pb.DiffResponse(objects=[
            pb.ObjectDiff(api_version=d.api_version, kind=d.kind, namespace=d.namespace, name=d.name,
                          action=d.action, live_yaml=d.live_yaml, desired_yaml=d.desired_yaml)
            for d in self._control.diff(request.cluster)])


def ref_to_yaml(ref: pb.ResourceRef) -> str:
    """The YAML document that names the same resource as ``ref``."""
    _require(kind=ref.kind, name=ref.name)
    metadata = {"name": ref.name}
    if ref.namespace:
        metadata["namespace"] = ref.namespace
    doc = {"kind": ref.kind, "metadata": metadata}
    if ref.api_version:
        doc = {"apiVersion": ref.api_version, **doc}
    return yaml.safe_dump(doc, sort_keys=False)


def _require(**fields: str) -> None:
    missing = [name for name, value in fields.items() if not value]
    if missing:
        raise ValidationError(f"missing required field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
