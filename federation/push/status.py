"""The push status of one member cluster: an immutable snapshot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PushStatus:
    """Where a cluster's pusher stands.

    ``synced``: the first inventory is done, a full desired set was received,
    and every desired object is applied and every orphan pruned, with no
    conflict or rejected object left. ``last_push``: wall time the last pass
    over the cluster completed without a cluster-level failure. ``objects``:
    owned objects whose live content equals the desired one. ``pending``:
    objects still to write or delete. ``errors``: the current problems, a few
    messages at most, never object content. ``conflicts``: desired objects
    left alone because someone else owns an object of that name. The counters
    only grow: ``applies`` and ``deletes`` are writes done, ``failures`` calls
    to the API server that failed. ``fights``: owned objects someone else
    changed or deleted lately, with their field manager and the repairs done;
    ``repairs`` counts those writes. ``fenced``: the last write was refused
    because this replica could not prove it holds its lease.
    """

    cluster: str
    synced: bool = False
    last_push: float | None = None
    objects: int = 0
    pending: int = 0
    errors: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    applies: int = 0
    deletes: int = 0
    failures: int = 0
    inventoried: bool = False
    prune_ready: bool = False
    fights: tuple[str, ...] = ()
    repairs: int = 0
    fenced: bool = False
