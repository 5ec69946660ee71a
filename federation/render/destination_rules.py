"""DestinationRule: locality failover for a federated host, always with outlier detection.

Istio ignores ``localityLbSetting`` failover unless outlier detection is set:
without ejections no locality ever empties, so nothing fails over. Without a
matching FailoverPolicy the rule still enables locality load balancing
(nearest locality first, Istio's default order) with the default outlier
detection. A host that already has a DestinationRule not owned by the hub in
the target gets none from us: Istio merges only one rule per host, and the
user's one is never overwritten (reported as a conflict instead).
"""

from __future__ import annotations

from federation.model.policy import DEFAULT_OUTLIER, FailoverPolicy
from federation.render.naming import POLICY_ANNOTATION, service_labels
from federation.render.service_entries import rule_name
from federation.render.view import ServiceView

API_VERSION = "networking.istio.io/v1"
KIND = "DestinationRule"


def destination_rule(view: ServiceView, policy: FailoverPolicy | None) -> dict:
    locality: dict = {"enabled": True}
    if policy is not None and policy.failover:
        locality["failover"] = [{"from": src, "to": dst} for src, dst in policy.failover]
    if policy is not None and policy.failover_priority:
        locality["failoverPriority"] = list(policy.failover_priority)
    outlier = (policy.effective_outlier() if policy is not None else DEFAULT_OUTLIER).to_dict()
    metadata: dict = {
        "name": rule_name(view),
        "namespace": view.key.namespace,
        "labels": service_labels(view.key),
    }
    if policy is not None:
        metadata["annotations"] = {POLICY_ANNOTATION: f"{policy.namespace}/{policy.name}"}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {
            "host": view.host,
            "trafficPolicy": {
                "loadBalancer": {"localityLbSetting": locality},
                "outlierDetection": outlier,
            },
        },
    }

