"""What the hub owns in a member cluster: listing it, and deleting it safely.

Only objects labelled ``app.kubernetes.io/managed-by=mesh-federation`` are ever
listed as owned, and a delete carries the listed object's uid as a precondition,
so an object someone else re-created under the same name is never removed.
The pusher's inventory also names the objects of the written kinds that are not
owned (foreign), so that only those names need a look before a write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from federation import errors, kubeapi
from federation.kubeapi import KubeClient, ResourceType
from federation.push.digest import MANAGED_SELECTOR, Ref, describe, is_owned, live_digest

log = logging.getLogger(__name__)

# Kinds the hub writes, and the one namespace to list (None: cluster-wide).
# Secrets are listed in istio-system only: that is where cacerts lives, and it
# keeps the hub's read access to Secrets narrow.
OWNED_KINDS: tuple[tuple[ResourceType, str | None], ...] = (
    (kubeapi.WORKLOAD_ENTRY, None),
    (kubeapi.SERVICE_ENTRY, None),
    (kubeapi.DESTINATION_RULE, None),
    (kubeapi.ISTIO_GATEWAY, None),
    (kubeapi.K8S_GATEWAY, None),
    (kubeapi.SECRET, "istio-system"),
)
# Kinds listed whole (not by label) by ``take_inventory``, so that every name in
# use is known. Not Secrets: that would read other parties' key material.
LISTED_WHOLE: frozenset[ResourceType] = frozenset(
    rtype for rtype, _ in OWNED_KINDS if rtype != kubeapi.SECRET)


@dataclass(frozen=True)
class LiveObject:
    """An owned object as last seen or written: enough to compare and to delete."""

    rtype: ResourceType
    uid: str | None
    digest: str | None

    @classmethod
    def of(cls, rtype: ResourceType, obj: dict) -> "LiveObject":
        return cls(rtype, (obj.get("metadata") or {}).get("uid"), live_digest(obj))


def live_ref(rtype: ResourceType, obj: dict) -> Ref:
    # List items may omit apiVersion/kind, so identity comes from the type.
    meta = obj.get("metadata") or {}
    namespace = (meta.get("namespace") or "") if rtype.namespaced else ""
    return (rtype.api_version, rtype.kind, namespace, meta.get("name", ""))


@dataclass
class Inventory:
    """The written kinds in a cluster: owned objects, and the names of the
    foreign ones among the kinds in ``LISTED_WHOLE``."""

    owned: dict[Ref, LiveObject] = field(default_factory=dict)
    foreign: set[Ref] = field(default_factory=set)


def take_inventory(kube: KubeClient,
                   cancelled: Callable[[], bool] | None = None) -> Inventory | None:
    """One list per written kind (whole for ``LISTED_WHOLE``, else by the owned
    label), or None when ``cancelled()`` turned true between calls. A kind whose
    API is not served (its CRD absent) holds nothing; other failures propagate."""
    inventory = Inventory()
    for rtype, namespace in OWNED_KINDS:
        if cancelled is not None and cancelled():
            return None
        whole = rtype in LISTED_WHOLE
        try:
            listing = kube.list(rtype, namespace=namespace,
                                label_selector=None if whole else MANAGED_SELECTOR)
        except errors.NotFound:
            continue
        for item in listing.get("items") or ():
            # Checked here: deletes rest on this, not on the server's filter.
            if is_owned(item):
                inventory.owned[live_ref(rtype, item)] = LiveObject.of(rtype, item)
            elif whole:
                inventory.foreign.add(live_ref(rtype, item))
    return inventory


def read_inventory(kube: KubeClient,
                   cancelled: Callable[[], bool] | None = None) -> dict[Ref, LiveObject] | None:
    """Every owned object of the written kinds, or None when ``cancelled()``
    turned true between calls. A kind whose API is not served (its CRD absent)
    holds nothing of ours; any other failure propagates."""
    owned: dict[Ref, LiveObject] = {}
    for rtype, namespace in OWNED_KINDS:
        if cancelled is not None and cancelled():
            return None
        try:
            listing = kube.list(rtype, namespace=namespace, label_selector=MANAGED_SELECTOR)
        except errors.NotFound:
            continue
        for item in listing.get("items") or ():
            # Checked again here: deletes rest on this, not on the server's filter.
            if is_owned(item):
                owned[live_ref(rtype, item)] = LiveObject.of(rtype, item)
    return owned


def delete_owned(kube: KubeClient, ref: Ref, live: LiveObject) -> bool:
    """Delete one owned object; False when it is already gone or was replaced
    by an object with another uid (which is then not ours to delete)."""
    _, _, namespace, name = ref
    body = None
    if live.uid:
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": live.uid}}
    try:
        kube.request("DELETE", live.rtype.path(namespace or None, name), body=body)
    except errors.NotFound:
        return False
    except errors.Conflict:
        log.info("object replaced since listed; left alone",
                 extra={"fields": {"cluster": kube.cluster, "object": describe(ref)}})
        return False
    return True


def delete_all_owned(kube: KubeClient) -> int:
    """Delete every owned object in the cluster; returns how many were deleted."""
    deleted = 0
    inventory = read_inventory(kube) or {}
    for ref, live in sorted(inventory.items(), key=lambda item: item[0]):
        if delete_owned(kube, ref, live):
            deleted += 1
    return deleted
