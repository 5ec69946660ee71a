"""Gateway-aware failover, the decision (pure): from each round of the hub's TCP
probes of the members' east-west gateways, and the time of the round, which
clusters are withdrawn from the other clusters' entries.

A cluster is *down* once its gateway has not answered for ``withdraw_after``
seconds and in at least ``failures`` rounds in a row (one lost SYN is not an
outage); it is *up* again once it has answered for ``restore_after`` seconds
(0: the first round that reaches it). A cluster seen for the first time counts
as having answered then, so a gateway that never answers is withdrawn one bound
after the hub first probed it.

The hub's vantage point is not the members': a hub cut off from the network
sees every gateway down. So when more than half of the probed clusters are down
at once nothing is withdrawn (``holding``): every cluster's entries are kept.
Clusters without a gateway address are not probed and never withdrawn here.
The clock is the caller's (``now``, monotonic seconds): nothing here reads one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

REACHABLE = "reachable"
UNREACHABLE = "unreachable"  # not answering, not (or not yet) withdrawn
WITHDRAWN = "withdrawn"
HOLDING = "hub cannot reach most gateways; not withdrawing"


@dataclass(frozen=True)
class Bounds:
    withdraw_after: float = 10.0  # seconds without an answer before a cluster is withdrawn
    restore_after: float = 0.0  # seconds of answering before it is restored (0: one round)
    failures: int = 2  # failed rounds in a row needed as well, whatever the time

    def __post_init__(self):
        if self.withdraw_after <= 0 or not 0 <= self.restore_after <= self.withdraw_after:
            raise ValueError("gateway bounds: need withdraw_after > 0 and 0 <= restore_after <= withdraw_after")


@dataclass(frozen=True)
class GatewayHealth:
    """One probed cluster's gateway, as the rounds so far have shown it."""

    last_ok: float  # when it last answered (or was first probed)
    failing_since: float | None = None  # the first failed round since it last answered
    ok_since: float | None = None  # the first answered round since it last failed
    failures: int = 0  # failed rounds in a row
    down: bool = False  # its own verdict, before the majority guard


@dataclass(frozen=True)
class Decision:
    clusters: Mapping[str, GatewayHealth] = field(default_factory=lambda: MappingProxyType({}))
    holding: bool = False  # most probed clusters are down: nothing is withdrawn

    @property
    def withdrawn(self) -> frozenset[str]:
        if self.holding:
            return frozenset()
        return frozenset(name for name, health in self.clusters.items() if health.down)

    def state(self, cluster: str) -> str:
        """``reachable``, ``unreachable``, ``withdrawn``, or "" when not probed."""
        health = self.clusters.get(cluster)
        if health is None:
            return ""
        if cluster in self.withdrawn:
            return WITHDRAWN
        return UNREACHABLE if health.failing_since is not None else REACHABLE


def decide(previous: Decision, results: Mapping[str, bool], now: float, bounds: Bounds) -> Decision:
    """The decision after one probe round: ``results`` says, per probed cluster,
    whether its gateway answered. Clusters absent from it are no longer probed
    (no gateway address, or gone) and are dropped."""
    clusters = {name: _next(previous.clusters.get(name), ok, now, bounds)
                for name, ok in sorted(results.items())}
    down = sum(1 for health in clusters.values() if health.down)
    return Decision(MappingProxyType(clusters), holding=2 * down > len(clusters))


def _next(health: GatewayHealth | None, ok: bool, now: float, bounds: Bounds) -> GatewayHealth:
    health = health or GatewayHealth(last_ok=now)
    if ok:
        ok_since = health.ok_since if health.ok_since is not None else now
        down = health.down and now - ok_since < bounds.restore_after
        return GatewayHealth(last_ok=now, ok_since=ok_since, down=down)
    failing_since = health.failing_since if health.failing_since is not None else now
    failures = health.failures + 1
    down = health.down or (failures >= bounds.failures and now - health.last_ok >= bounds.withdraw_after)
    return replace(health, failing_since=failing_since, ok_since=None, failures=failures, down=down)
