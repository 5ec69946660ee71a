"""The pushers of all member clusters this hub replica serves, one per cluster.

Removing a cluster stops its worker and leaves its objects in place; whether
to clean them up is the hub's separate decision (``cleanup``). The hub's
members (``federation.hub.members``) keep their pushers here.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Mapping

import tenacity

from federation import errors
from federation.kube.client import KubeClient
from federation.model.ids import MANAGED_BY, Ref
from federation.push.digest import DEFAULT_HUB_ID
from federation.push.inventory import delete_all_owned
from federation.push.pushing import (
    AppliedCallback, ClusterPusher, RetryPolicy, StatusCallback,
)
from federation.push.status import PushStatus

log = logging.getLogger(__name__)


class PushFleet:
    """Starts, feeds and stops one ``ClusterPusher`` per member cluster.

    The ``KubeClient`` of a cluster stays the caller's: the fleet never closes it.
    ``options`` are every pusher's further ``ClusterPusher`` arguments (tracer,
    fence, watch_timeout, ...); ``add`` may add more for one cluster.
    """

    def __init__(self, on_status: StatusCallback | None = None,
                 on_applied: AppliedCallback | None = None,
                 field_manager: str = MANAGED_BY,
                 retry: RetryPolicy | None = None,
                 resync_interval: float | None = 600.0,
                 stop_timeout: float = 15.0, hub_id: str = DEFAULT_HUB_ID,
                 watch_owned: bool = False, **options):
        self._retry = retry or RetryPolicy()
        self._stop_timeout = stop_timeout
        self._hub_id = hub_id
        self._options = dict(options, on_status=on_status, on_applied=on_applied,
                             field_manager=field_manager, retry=self._retry,
                             resync_interval=resync_interval, hub_id=hub_id, watch_owned=watch_owned)
        self._lock = threading.Lock()
        self._pushers: dict[str, ClusterPusher] = {}
        self._kubes: dict[str, KubeClient] = {}

    def add(self, cluster: str, kube: KubeClient, **options) -> ClusterPusher:
        """Start pushing to ``cluster`` (``options`` over the fleet's own);
        AlreadyExists when it has a pusher."""
        with self._lock:
            if cluster in self._pushers:
                raise errors.AlreadyExists(f"cluster {cluster!r} already has a pusher")
            pusher = ClusterPusher(cluster, kube, **{**self._options, **options})
            self._pushers[cluster] = pusher
            self._kubes[cluster] = kube
        pusher.start()
        log.info("pusher started", extra={"fields": {"cluster": cluster}})
        return pusher

    def detach(self, cluster: str) -> ClusterPusher | None:
        """Take ``cluster``'s pusher out, told to stop writing at once; the caller
        waits for it (``stop``), outside whatever lock it holds."""
        with self._lock:
            pusher = self._pushers.pop(cluster, None)
            self._kubes.pop(cluster, None)
        if pusher is not None:
            pusher.request_stop()
        return pusher

    def remove(self, cluster: str, timeout: float | None = None) -> bool:
        """Stop ``cluster``'s pusher, keeping its objects; True when it ended in
        time (or there was none)."""
        pusher = self.detach(cluster)
        if pusher is None:
            return True
        stopped = pusher.stop(self._stop_timeout if timeout is None else timeout)
        log.info("pusher removed", extra={"fields": {"cluster": cluster, "stopped": stopped}})
        return stopped

    def pusher(self, cluster: str) -> ClusterPusher:
        with self._lock:
            try:
                return self._pushers[cluster]
            except KeyError:
                raise errors.NotFound(f"cluster {cluster!r} has no pusher") from None

    def clusters(self) -> list[str]:
        with self._lock:
            return sorted(self._pushers)

    def update(self, cluster: str, changes: Mapping[Ref, dict | None],
               observed_at: float | None = None) -> None:
        self.pusher(cluster).update(changes, observed_at)

    def replace_all(self, cluster: str, desired: Mapping[Ref, dict],
                    observed_at: float | None = None) -> None:
        self.pusher(cluster).replace_all(desired, observed_at)

    def statuses(self) -> dict[str, PushStatus]:
        with self._lock:
            pushers = list(self._pushers.items())
        return {cluster: pusher.status() for cluster, pusher in pushers}

    def cleanup(self, cluster: str, kube: KubeClient | None = None,
                deadline: float = 30.0) -> int:
        """Delete every owned object in ``cluster`` and return how many were
        deleted. Its pusher, if any, is stopped first so it cannot write again;
        ``kube`` is needed when the fleet does not serve the cluster. Transient
        failures are retried with back-off for up to ``deadline`` seconds."""
        with self._lock:
            kube = kube or self._kubes.get(cluster)
        if kube is None:
            raise errors.NotFound(f"no client for cluster {cluster!r}")
        if not self.remove(cluster):
            raise errors.ClusterError(f"pusher of cluster {cluster!r} did not stop; not cleaning up")
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(errors.Transient),
            wait=self._retry.waiting(),
            stop=tenacity.stop_after_delay(deadline),
            reraise=True,
        )
        deleted = retrying(delete_all_owned, kube, self._hub_id)
        log.info("cluster cleaned up", extra={"fields": {"cluster": cluster, "deleted": deleted}})
        return deleted

    def stop_all(self, timeout: float | None = None) -> bool:
        """Stop every pusher (all at once, then wait); True when all ended in time."""
        with self._lock:
            pushers = list(self._pushers.values())
            self._pushers.clear()
            self._kubes.clear()
        for pusher in pushers:
            pusher.request_stop()
        deadline = time.monotonic() + (self._stop_timeout if timeout is None else timeout)
        return all([pusher.stop(max(0.0, deadline - time.monotonic())) for pusher in pushers])
