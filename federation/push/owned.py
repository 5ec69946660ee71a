"""What the hub owns in a member cluster, as data: the kinds it writes, an owned
object as last seen, and an inventory of a cluster. No I/O (``inventory`` lists
and deletes); the push ledger keeps its view of a cluster in these terms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from federation.kube.resources import (
    DESTINATION_RULE, ISTIO_GATEWAY, K8S_GATEWAY, MESH_POLICY_KINDS, NAMESPACE, SECRET, SERVICE,
    SERVICE_ENTRY, VIRTUAL_SERVICE, WORKLOAD_ENTRY, ResourceType,
)
from federation.model.ids import Ref
from federation.push.digest import live_digest

# Kinds the hub writes, and the one namespace to list (None: cluster-wide).
# Secrets are listed in istio-system only: that is where cacerts lives, and it
# keeps the hub's read access to Secrets narrow.
OWNED_KINDS: tuple[tuple[ResourceType, str | None], ...] = (
    (NAMESPACE, None),  # where the target lacks a federated service's namespace
    (SERVICE, None),  # stub Services of services the target does not run
    (WORKLOAD_ENTRY, None),
    (SERVICE_ENTRY, None),  # no longer written: listed so that old ones are pruned
    (DESTINATION_RULE, None),
    (VIRTUAL_SERVICE, None),  # a TrafficSplit's weighted routes
    *((rtype, None) for rtype in MESH_POLICY_KINDS),  # what MeshPolicies carry
    (ISTIO_GATEWAY, None),
    (K8S_GATEWAY, None),  # no longer written: listed so that old ones are pruned
    (SECRET, "istio-system"),
)
# Kinds listed by name too: RBAC grants the hub list/watch of one Secret only
# (resourceNames), which the API server allows only with this field selector.
FIELD_SELECTORS: dict[ResourceType, str] = {SECRET: "metadata.name=cacerts"}
# Kinds listed whole (not by label) by ``take_inventory``, so that every name in
# use is known. Not Secrets: that would read other parties' key material.
LISTED_WHOLE: frozenset[ResourceType] = frozenset(
    rtype for rtype, _ in OWNED_KINDS if rtype != SECRET)


@dataclass(frozen=True, slots=True)
class LiveObject:
    """An owned object as last seen or written: enough to compare and to delete.
    ``digest`` is None when its content is known to differ from what was written."""

    rtype: ResourceType
    uid: str | None
    digest: str | None
    version: str = ""  # resourceVersion, to tell an old watch event from news

    @classmethod
    def of(cls, rtype: ResourceType, obj: dict) -> "LiveObject":
        meta = obj.get("metadata") or {}
        return cls(rtype, meta.get("uid"), live_digest(obj), str(meta.get("resourceVersion") or ""))


def newer(version: str, than: str) -> bool:
    """Whether resourceVersion ``version`` is later than ``than``. They are
    opaque strings; integers (what etcd-backed servers use) are compared as such,
    anything else counts as newer."""
    if version.isdigit() and than.isdigit():
        return int(version) > int(than)
    return version != than


def live_ref(rtype: ResourceType, obj: dict) -> Ref:
    # List items may omit apiVersion/kind, so identity comes from the type.
    meta = obj.get("metadata") or {}
    namespace = (meta.get("namespace") or "") if rtype.namespaced else ""
    return (rtype.api_version, rtype.kind, namespace, meta.get("name", ""))


@dataclass
class Inventory:
    """The written kinds in a cluster: owned objects (``raw`` holds their
    listed content, for a content check), the names of the foreign ones
    (among the kinds in ``LISTED_WHOLE``, and every other hub's or unadopted
    legacy object), and the objects of other hubs seen (name -> hub id)."""

    owned: dict[Ref, LiveObject] = field(default_factory=dict)
    foreign: set[Ref] = field(default_factory=set)
    raw: dict[Ref, dict] = field(default_factory=dict)
    other_hubs: dict[Ref, str] = field(default_factory=dict)
    legacy: int = 0  # objects without a hub id: adopted, or foreign when another hub is here
