"""The objects MeshPolicies carry, as written into one target cluster.

Every MeshPolicy whose cluster selector selects the target contributes its
objects, in (policy namespace, policy name, position) order, each labelled as
the hub's (``managed-by``, component ``mesh-policy``), with a label and an
annotation naming the MeshPolicy, so ``kubectl get -l`` finds them and a
conflict can say which policy wanted a name. Should two policies ever carry
one name (apply refuses it; two replicas racing could still store it), the
first in that order wins, so the output stays deterministic.
"""

from __future__ import annotations

from typing import Iterable

from federation.model.cluster import ClusterInfo
from federation.model.mesh_policy import MESH_POLICY_ANNOTATION, MeshPolicy, object_key
from federation.render.naming import COMPONENT_LABEL, label_value, managed_labels

COMPONENT = "mesh-policy"
MESH_POLICY_LABEL = "federation.mesh/mesh-policy"  # <namespace>.<name> (no dots in a namespace)


def mesh_policy_labels(policy: MeshPolicy) -> dict[str, str]:
    return {**managed_labels(), COMPONENT_LABEL: COMPONENT,
            MESH_POLICY_LABEL: label_value(f"{policy.namespace}.{policy.name}")}


def render_mesh_policies(policies: Iterable[MeshPolicy], target: ClusterInfo) -> list[dict]:
    """The carried objects of every policy that selects ``target``."""
    out: list[dict] = []
    seen: set = set()
    for policy in sorted(policies, key=lambda p: (p.namespace, p.name)):
        if not policy.selector.selects(target):
            continue
        labels = mesh_policy_labels(policy)
        for obj in policy.objects:
            key = object_key(obj)
            if key in seen:
                continue
            seen.add(key)
            meta = obj["metadata"]
            out.append({
                **obj,  # spec shared, never changed
                "metadata": {
                    **meta,
                    "labels": {**meta.get("labels", {}), **labels},
                    "annotations": {**meta.get("annotations", {}),
                                    MESH_POLICY_ANNOTATION: f"{policy.namespace}/{policy.name}"},
                },
            })
    return out
