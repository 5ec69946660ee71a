"""DestinationRule: locality failover for a federated host, always with outlier detection.

Istio ignores ``localityLbSetting`` failover unless outlier detection is set:
without ejections no locality ever empties, so nothing fails over. Without a
matching FailoverPolicy the rule still enables locality load balancing
(nearest locality first, Istio's default order) with the default outlier
detection.

istiod picks one rule for a host: from the client's namespace, else the
service's, else the root namespace, the most specific host first. A hub rule
for the exact host would therefore silently shadow a user's wildcard or
namespace-wide rule, so a host that any user-owned rule in the target covers
(exact or wildcard) gets none from us; the user's rule stays in force and the
hub reports it (``shadowing_rules``).
"""

from __future__ import annotations

from federation.model.ids import host_matches
from federation.model.policy import DEFAULT_OUTLIER, FailoverPolicy
from federation.render.naming import POLICY_ANNOTATION, service_labels
from federation.render.naming import dns_name
from federation.render.traffic_splits import Route, subsets
from federation.render.view import ServiceView

API_VERSION = "networking.istio.io/v1"
KIND = "DestinationRule"
PREFIX = "federation"


def rule_name(view: ServiceView) -> str:
    """``federation-<svc>``: one per service and namespace."""
    return dns_name([PREFIX, view.key.name], [view.key.namespace, view.key.name])


def shadowing_rules(host: str, user_hosts) -> list[str]:
    """The user-owned rule hosts that cover ``host``, sorted."""
    return sorted(p for p in user_hosts if host_matches(p, host))


def destination_rule(view: ServiceView, policy: FailoverPolicy | None, routes: tuple[Route, ...] = ()) -> dict:
    """The rule for the host; with a TrafficSplit's ``routes``, the subsets they name."""
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
    traffic_policy = {"loadBalancer": {"localityLbSetting": locality}, "outlierDetection": outlier}
    spec: dict = {"host": view.host, "trafficPolicy": traffic_policy}
    chosen = subsets(view, routes, traffic_policy)
    if chosen:
        spec["subsets"] = chosen
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}

