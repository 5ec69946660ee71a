"""WorkloadEntries: where a service's endpoints outside the target cluster are.

Remote clusters: one entry per (service, remote cluster, locality) whose address
is that cluster's east-west gateway and whose every service port maps to the
gateway's port (15443): the gateway's AUTO_PASSTHROUGH server routes on the
SNI Istio sets (``outbound_.<port>_._.<host>``), so one gateway port carries
every service port. ``weight`` is the ready endpoint count, so load spreads
over clusters as it would over pods. Clusters on the target's own network get
the same gateway entries (no per-endpoint flat-network entries): the gateway is
reachable either way, and the pod addresses of another cluster may not be.

VMs: one entry per VM with its own address, network, locality and labels, in
every cluster (the VM is nobody's local endpoint).

Entry labels are the labels that make the target select them (its Service's
selector, or the ServiceEntry's workloadSelector) plus the federation's labels.
"""

from __future__ import annotations

from collections import Counter

from federation.model.cluster import first_ip
from federation.model.ids import SOURCE_CLUSTER_LABEL
from federation.model.service import VMWorkload
from federation.render.naming import (
    VM_LABEL, VM_SOURCE, dns_name, label_value, port_name, service_labels,
)
from federation.render.view import RemoteLocality, ServiceView

API_VERSION = "networking.istio.io/v1"
KIND = "WorkloadEntry"
GATEWAY_PREFIX = "fed"
VM_PREFIX = "fedvm"  # never equal to a "fed-..." name


def workload_entries(view: ServiceView) -> list[dict]:
    """Every WorkloadEntry of the service for the target, sorted by name."""
    remote = [(_remote_parts(view, r), _remote_identity(view, r), r) for r in view.remote]
    names = [dns_name(parts, identity) for parts, identity, _ in remote]
    shared = {name for name, seen in Counter(names).items() if seen > 1}
    objects = []
    for name, (parts, identity, entry) in zip(names, remote):
        if name in shared:  # e.g. equal zone names in two regions of one cluster
            name = dns_name(parts, identity, force_hash=True)
        objects.append(_remote_entry(view, entry, name))
    objects += [_vm_entry(view, vm) for vm in view.vms]
    return sorted(objects, key=lambda obj: obj["metadata"]["name"])


def gateway_address(addresses: tuple[str, ...]) -> str:
    """The first IP among the gateway's addresses, else its first hostname."""
    return first_ip(addresses) or addresses[0]


def _remote_parts(view: ServiceView, entry: RemoteLocality) -> list[str]:
    loc = entry.locality
    where = "-".join(p for p in (loc.zone, loc.subzone) if p) or loc.region or "unknown"
    return [GATEWAY_PREFIX, view.key.name, entry.cluster.name, where]


def _remote_identity(view: ServiceView, entry: RemoteLocality) -> list[str]:
    return [view.key.namespace, view.key.name, entry.cluster.name, str(entry.locality)]


def _remote_entry(view: ServiceView, entry: RemoteLocality, name: str) -> dict:
    owner = service_labels(view.key)
    owner[SOURCE_CLUSTER_LABEL] = label_value(entry.cluster.name)
    labels = {**dict(view.selector), **owner}
    spec: dict = {
        "address": gateway_address(entry.cluster.gateways),
        "network": entry.cluster.network,
        "weight": entry.ready,
        "labels": labels,
    }
    if view.ports:
        spec["ports"] = {port_name(p): entry.cluster.gateway_port for p in view.ports}
    locality = str(entry.locality)
    if locality:
        spec["locality"] = locality
    if entry.service.service_account:
        spec["serviceAccount"] = entry.service.service_account
    return _entry(view, name, owner, spec)


def _vm_entry(view: ServiceView, vm: VMWorkload) -> dict:
    owner = service_labels(view.key)
    owner[SOURCE_CLUSTER_LABEL] = VM_SOURCE
    owner[VM_LABEL] = label_value(vm.name)
    # The VM's own labels, then what makes the target select it, then ownership.
    labels = {**dict(vm.labels), **dict(view.selector), **owner}
    spec: dict = {"address": vm.address, "labels": labels}
    if vm.network:
        spec["network"] = vm.network
    locality = str(vm.locality)
    if locality:
        spec["locality"] = locality
    if vm.service_account:
        spec["serviceAccount"] = vm.service_account
    # A VM port maps the service port of that name to where the VM listens;
    # service ports it does not list keep the service's target port.
    known = {port_name(p) for p in view.ports}
    ports = {port_name(p): p.target_port or p.number for p in vm.ports if port_name(p) in known}
    if ports:
        spec["ports"] = ports
    return _entry(view, dns_name([VM_PREFIX, vm.name], [view.key.namespace, view.key.name, vm.name]),
                  owner, spec)


def _entry(view: ServiceView, name: str, owner: dict, spec: dict) -> dict:
    """``owner`` labels the object for the pusher; ``spec.labels`` are the workload's."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": view.key.namespace, "labels": owner},
        "spec": spec,
    }
