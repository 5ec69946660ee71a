"""What the hub owns in a member cluster: listing it, and deleting it safely.

Only objects labelled ``app.kubernetes.io/managed-by=mesh-federation`` and
``federation.mesh/hub=<this hub's id>`` are listed as owned, and a delete
carries the listed object's uid as a precondition, so an object someone else
re-created under the same name is never removed. The pusher's inventory also
names the objects of the written kinds that are not owned (foreign), so that
only those names need a look before a write, and the other hubs seen.

Adoption rule for objects written before hub identities existed (managed-by
label, no hub label): a hub adopts them (lists them as its own, so it updates,
repairs and prunes them) only when nothing else claims the cluster, that is
when no object of any other hub identity is present in it. Once another hub's
object is seen there, such objects are foreign: reported, never written.
"""

from __future__ import annotations

import logging
from typing import Callable

from federation import errors
from federation.kube.client import KubeClient
from federation.kube.resources import SERVICE, ResourceType
from federation.model.ids import MANAGED_BY, Ref
from federation.model.ownership import taken_over
from federation.push.digest import DEFAULT_HUB_ID, LEGACY, MANAGED_SELECTOR, describe, owner_of
from federation.push.owned import (  # noqa: F401  (OWNED_KINDS: where the pusher's callers look)
    FIELD_SELECTORS, LISTED_WHOLE, OWNED_KINDS, Inventory, LiveObject, live_ref,
)

log = logging.getLogger(__name__)


def take_inventory(kube: KubeClient, cancelled: Callable[[], bool] | None = None,
                   hub_id: str = DEFAULT_HUB_ID, keep_raw: bool = False) -> Inventory | None:
    """One list per written kind (whole for ``LISTED_WHOLE``, else by the
    managed-by label), or None when ``cancelled()`` turned true between calls. A
    kind whose API is not served (its CRD absent) holds nothing; other failures
    propagate. Legacy objects are adopted as the module docstring says."""
    inventory = Inventory()
    legacy: list[tuple[Ref, ResourceType, dict]] = []
    for rtype, namespace in OWNED_KINDS:
        if cancelled is not None and cancelled():
            return None
        whole = rtype in LISTED_WHOLE
        try:
            listing = kube.list(rtype, namespace=namespace,
                                label_selector=None if whole else MANAGED_SELECTOR,
                                field_selector=FIELD_SELECTORS.get(rtype))
        except errors.NotFound:
            continue
        for item in listing.get("items") or ():
            # Checked here: deletes rest on this, not on the server's filter.
            ref, owner = live_ref(rtype, item), owner_of(item)
            if owner == hub_id:
                inventory.owned[ref] = LiveObject.of(rtype, item)
                if keep_raw:
                    inventory.raw[ref] = item
            elif owner == LEGACY:
                legacy.append((ref, rtype, item))
            else:
                inventory.foreign.add(ref)
                if owner is not None:
                    inventory.other_hubs[ref] = owner
    inventory.legacy = len(legacy)
    for ref, rtype, item in legacy:
        if inventory.other_hubs:
            inventory.foreign.add(ref)
        else:
            inventory.owned[ref] = LiveObject.of(rtype, item)
            if keep_raw:
                inventory.raw[ref] = item
    return inventory


def read_inventory(kube: KubeClient, cancelled: Callable[[], bool] | None = None,
                   hub_id: str = DEFAULT_HUB_ID) -> dict[Ref, LiveObject] | None:
    """Every owned object of the written kinds (legacy ones adopted by the
    same rule as ``take_inventory``), or None when ``cancelled()`` turned true
    between calls."""
    inventory = take_inventory(kube, cancelled, hub_id)
    return None if inventory is None else inventory.owned


def delete_owned(kube: KubeClient, ref: Ref, live: LiveObject) -> bool:
    """Delete one owned object; False when it is already gone or was replaced
    by an object with another uid (which is then not ours to delete)."""
    _, _, namespace, name = ref
    if live.rtype == SERVICE and _release_if_taken_over(kube, ref, live):
        return False
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


def _release_if_taken_over(kube: KubeClient, ref: Ref, live: LiveObject) -> bool:
    """A stub Service a user applied their own Service over is theirs now: drop the
    hub's fields (an apply that names nothing) instead of deleting it. True if released."""
    _, _, namespace, name = ref
    current = kube.get(live.rtype, namespace or None, name)
    if current is None or not taken_over(current):
        return False
    kube.apply(live.rtype, {"apiVersion": "v1", "kind": "Service",
                            "metadata": {"name": name, "namespace": namespace}},
               field_manager=MANAGED_BY, force=False)
    log.info("stub Service taken over by its cluster; released, not deleted",
             extra={"fields": {"cluster": kube.cluster, "object": describe(ref)}})
    return True


def delete_all_owned(kube: KubeClient, hub_id: str = DEFAULT_HUB_ID) -> int:
    """Delete every owned object in the cluster; returns how many were deleted."""
    deleted = 0
    inventory = read_inventory(kube, hub_id=hub_id) or {}
    for ref, live in sorted(inventory.items(), key=lambda item: item[0]):
        if delete_owned(kube, ref, live):
            deleted += 1
    return deleted
