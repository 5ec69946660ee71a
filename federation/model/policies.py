"""The hub resources in force that shape what is rendered, as one immutable bundle.

``PolicySet`` carries every kind that render reads: FailoverPolicies (locality
failover), TrafficSplits (weighted shares by cluster, network or region) and
MeshPolicies (Istio security and traffic objects for selected clusters). The
hub's resource store builds one on every change; render takes it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from federation.model.mesh_policy import MeshPolicy
from federation.model.policy import FailoverPolicy
from federation.model.traffic_split import TrafficSplit


@dataclass(frozen=True)
class PolicySet:
    failover: tuple[FailoverPolicy, ...] = ()
    splits: tuple[TrafficSplit, ...] = ()
    mesh: tuple[MeshPolicy, ...] = ()

    @classmethod
    def of(cls, policies: "PolicySet | Iterable[FailoverPolicy]") -> "PolicySet":
        """``policies`` as a set: a PolicySet as it is, FailoverPolicies alone otherwise."""
        if isinstance(policies, PolicySet):
            return policies
        return cls(failover=tuple(policies))


NO_POLICIES = PolicySet()
