"""Which changes are urgent: pure, judged against the published snapshot.

An availability change (a service appearing or going in a cluster, a cluster or
locality of a service reaching zero ready endpoints or coming back, anything
that is not a ready count) is pushed ahead of weight-only changes, which only
move ready counts between non-zero values and may wait longer.
"""

from __future__ import annotations

from dataclasses import replace

from federation.model import ServiceChange, Snapshot
from federation.model.service import ClusterService

AVAILABILITY = "availability"
WEIGHT = "weight"


def classify(snapshot: Snapshot, change) -> str:
    """``AVAILABILITY`` or ``WEIGHT`` for one change against ``snapshot``."""
    if not isinstance(change, ServiceChange):
        return AVAILABILITY  # clusters, VMs, user rules: rare and structural
    before = snapshot.services.get(change.key, {}).get(change.cluster)
    return AVAILABILITY if is_availability(before, change.service) else WEIGHT


def is_availability(before: ClusterService | None, after: ClusterService | None) -> bool:
    if before is None or after is None:
        return before is not after
    if {loc for loc, _ in before.endpoints} != {loc for loc, _ in after.endpoints}:
        return True  # counts are > 0 only: a locality reached zero or came back
    # Anything but the counts (ports, selector, labels, account) is not a weight.
    return replace(before, endpoints=()) != replace(after, endpoints=())


def service_key(change):
    """The per-service ordering key of a change (None: orders with everything)."""
    return (change.cluster, change.key) if isinstance(change, ServiceChange) else None
