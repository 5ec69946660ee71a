"""WorkloadEntries: where a service's endpoints outside the target cluster are.

Remote clusters: one entry per (service, remote gateway address), pointing at
that cluster's east-west gateway, every port of the selecting Service mapped to
the gateway's AUTO_PASSTHROUGH port (15443). The gateway routes on the SNI the
client's sidecar sets (``outbound_.<port>_._.<host>``), so one gateway port
carries every service port. ``weight`` is the ready endpoint count behind that
gateway, so load spreads over clusters as it would over pods.

What makes istiod use an entry (pilot's serviceentry conversion and endpoint
filters):

* the label ``security.istio.io/tlsMode: istio`` (and ``serviceAccount`` where the
  workloads' account is known): without it istiod drops cross-network endpoints
  and sends plaintext to the others, which AUTO_PASSTHROUGH never matches;
* ``ports`` keyed as istiod looks them up for a Service-selected entry: by the
  Service port's named target port, else by the port's name;
* the entry's ``network`` is the remote cluster's. No network gateway of that
  network is published in the target, so istiod treats the entry as directly
  reachable and sends to its address, the gateway of the cluster that has the
  endpoints, instead of spreading a network's traffic over all its gateways.

VMs: one entry per VM with its own address, network, locality and labels.

Entry labels are the labels the target's Service (or the hub's stub Service)
selects, the mTLS marker, and the federation's labels; under a TrafficSplit
also the share the entry's cluster belongs to (what the split's subsets select).
"""

from __future__ import annotations

from federation.model.ids import SOURCE_CLUSTER_LABEL, TLS_MODE_LABEL
from federation.model.service import VMWorkload
from federation.model.traffic_split import TrafficSplit
from federation.render.naming import VM_LABEL, VM_SOURCE, dns_name, label_value, service_labels
from federation.render.traffic_splits import SHARE_LABEL, gateway_share, vm_share
from federation.render.view import RemoteGateway, ServiceView

API_VERSION = "networking.istio.io/v1"
KIND = "WorkloadEntry"
GATEWAY_PREFIX = "fed"
VM_PREFIX = "fedvm"  # never equal to a "fed-..." name
TLS_MODE = "istio"


def workload_entries(view: ServiceView, split: TrafficSplit | None = None) -> list[dict]:
    """Every WorkloadEntry of the service for the target, sorted by name."""
    objects = [_remote_entry(view, gateway, gateway_share(split, gateway) if split else "")
               for gateway in view.remote]
    objects += [_vm_entry(view, vm, vm_share(split, vm.network, vm.locality.region) if split else "")
                for vm in view.vms]
    return sorted(objects, key=lambda obj: obj["metadata"]["name"])


def _remote_entry(view: ServiceView, gateway: RemoteGateway, share: str) -> dict:
    owner = service_labels(view.key)
    owner[SOURCE_CLUSTER_LABEL] = label_value(gateway.clusters[0])
    # One name per (service, clusters behind the address): stable while they stay.
    name = dns_name([GATEWAY_PREFIX, view.key.name, *gateway.clusters],
                    [view.key.namespace, view.key.name, *gateway.clusters])
    spec: dict = {
        "address": gateway.address,
        "network": gateway.network,
        "weight": gateway.ready,
        "labels": {**dict(view.selector), TLS_MODE_LABEL: TLS_MODE, **owner, **_share(share)},
    }
    ports = {p.entry_key: gateway.port for p in view.ports if p.entry_key}
    if ports:
        spec["ports"] = ports
    locality = str(gateway.locality)
    if locality:
        spec["locality"] = locality
    if gateway.service_account:
        spec["serviceAccount"] = gateway.service_account
    return _entry(view, name, owner, spec)


def _vm_entry(view: ServiceView, vm: VMWorkload, share: str) -> dict:
    owner = service_labels(view.key)
    owner[SOURCE_CLUSTER_LABEL] = VM_SOURCE
    owner[VM_LABEL] = label_value(vm.name)
    # The VM's own labels, then what makes the target select it, then ownership.
    labels = {**dict(vm.labels), **dict(view.selector), TLS_MODE_LABEL: TLS_MODE, **owner, **_share(share)}
    spec: dict = {"address": vm.address, "labels": labels}
    if vm.network:
        spec["network"] = vm.network
    locality = str(vm.locality)
    if locality:
        spec["locality"] = locality
    if vm.service_account:
        spec["serviceAccount"] = vm.service_account
    # A VM port maps the service port of that number (or name) to where the VM
    # listens; service ports it does not list keep the service's target port.
    ports = {}
    for port in view.ports:
        if not port.entry_key:
            continue
        mine = next((p for p in vm.ports if p.number == port.number or p.name == port.name), None)
        if mine is not None:
            ports[port.entry_key] = mine.target_port or mine.number
    if ports:
        spec["ports"] = ports
    return _entry(view, dns_name([VM_PREFIX, vm.name], [view.key.namespace, view.key.name, vm.name]),
                  owner, spec)


def _share(share: str) -> dict[str, str]:
    return {SHARE_LABEL: share} if share else {}


def _entry(view: ServiceView, name: str, owner: dict, spec: dict) -> dict:
    """``owner`` labels the object for the pusher; ``spec.labels`` are the workload's."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": view.key.namespace, "labels": owner},
        "spec": spec,
    }
