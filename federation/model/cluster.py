"""What the hub knows about one member cluster, as seen from its API server."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from federation.model.ids import EASTWEST_PORT


class ClusterState(str, Enum):
    """Where a member cluster's watcher stands: ``syncing`` (before its first full
    sync), ``synced``, ``unreachable`` (failing before its first sync) or ``stale``
    (failing after one: its last-known endpoints are kept and marked)."""

    SYNCING = "syncing"
    SYNCED = "synced"
    UNREACHABLE = "unreachable"
    STALE = "stale"

    def __str__(self) -> str:
        return self.value

    @property
    def known(self) -> bool:
        """Whether the hub has the cluster's full state (now, or last known)."""
        return self not in (ClusterState.SYNCING, ClusterState.UNREACHABLE)


@dataclass(frozen=True)
class ClusterInfo:
    name: str
    network: str = ""
    region: str = ""
    gateways: tuple[str, ...] = ()  # east-west gateway IPs or hostnames, sorted
    gateway_port: int = EASTWEST_PORT
    # "synced" once the first full list of every kind arrived; "stale" while
    # unreachable after that: its last-known endpoints are kept and marked.
    stale: bool = False
    # IPs the gateway's hostnames resolved to (istiod ignores hostname entries
    # for Kubernetes Services), sorted
    resolved: tuple[str, ...] = ()
    # namespaces that exist there, not counting the ones the hub created
    namespaces: frozenset[str] = frozenset()
    # labels given at registration (``federation cluster add --label k=v``), sorted:
    # what import selectors and MeshPolicy cluster selectors match
    labels: tuple[tuple[str, str], ...] = ()
    # False while the hub's prober cannot reach any of its east-west gateways
    # (gateway-aware failover): other clusters' entries for it are withdrawn
    gateway_reachable: bool = True


def gateway_ip(info: ClusterInfo) -> str:
    """The address entries point at: the gateway's first IP, else its first resolved one."""
    return first_ip(info.gateways) or first_ip(info.resolved)


def first_ip(addresses: Iterable[str]) -> str:
    """The first IP address among a gateway's addresses (which may be hostnames), or ""."""
    return _first_ip(tuple(addresses))


@functools.lru_cache(maxsize=4096)  # every render of every target asks, of the same few tuples
def _first_ip(addresses: tuple[str, ...]) -> str:
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            continue
        return address
    return ""
