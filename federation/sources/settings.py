"""Settings of the member-cluster watchers."""

from __future__ import annotations

from dataclasses import dataclass

from federation import errors

EXPORT_ALL = "all"
EXPORT_NAMESPACE_LABEL = "namespace-label"
EXPORT_SERVICE_EXPORT = "service-export"
EXPORT_MODES = (EXPORT_ALL, EXPORT_NAMESPACE_LABEL, EXPORT_SERVICE_EXPORT)

DEFAULT_EXCLUDED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "istio-system"})


@dataclass(frozen=True)
class SourceSettings:
    """How member clusters are watched and which of their Services are federated.

    ``export_mode``: ``all`` federates every Service outside ``excluded_namespaces``;
    ``namespace-label`` only those in namespaces labelled ``federation.mesh/export=true``;
    ``service-export`` only those with an MCS ``ServiceExport`` of the same name.
    A Service's own label ``federation.mesh/export`` (``true``/``false``) overrides
    its namespace's, which overrides the mode: ``false`` on the Service keeps it
    local in every mode (``model.scope.exported``).
    """

    export_mode: str = EXPORT_ALL
    excluded_namespaces: frozenset[str] = DEFAULT_EXCLUDED_NAMESPACES
    domain: str = "cluster.local"  # hosts of DestinationRules are resolved in it
    # Explicit network and region of the registered cluster; empty: derived
    # from the istio-system namespace label and from the Nodes.
    network: str = ""
    region: str = ""
    # The cluster's registration labels (sorted pairs), carried on its ClusterInfo.
    labels: tuple[tuple[str, str], ...] = ()
    # Server-side watch duration (seconds): each watch asks for between one and two of it; the
    # client gives up after that plus the margin.
    watch_timeout: int = 300
    watch_read_margin_seconds: float = 15.0
    # Bookmarks are always requested; when used, they advance the resume point so
    # a rewatch after a quiet period does not fall out of the server's history.
    use_bookmarks: bool = True
    # Back-off for transient failures (unreachable, 5xx): exponential with jitter.
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 10.0
    # Slower retry for errors a retry is unlikely to fix soon (401/403, bad config).
    error_backoff_initial_seconds: float = 2.0
    error_backoff_max_seconds: float = 60.0
    # Consecutive failed list/watch attempts of a kind before the cluster counts
    # as unreachable (and, once synced, stale).
    unreachable_after_failures: int = 3
    # How often a kind whose CRD is missing (404) is listed again.
    missing_kind_recheck_seconds: float = 30.0
    # How long stop() waits for the watcher's threads.
    stop_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.export_mode not in EXPORT_MODES:
            raise errors.ConfigError(
                f"export mode {self.export_mode!r} is not one of {', '.join(EXPORT_MODES)}")
        if self.watch_timeout < 1:
            raise errors.ConfigError("watch timeout must be at least 1 second")
        if not 0 < self.backoff_initial_seconds <= self.backoff_max_seconds:
            raise errors.ConfigError("back-off must satisfy 0 < initial <= max")
        if not 0 < self.error_backoff_initial_seconds <= self.error_backoff_max_seconds:
            raise errors.ConfigError("error back-off must satisfy 0 < initial <= max")
        if self.unreachable_after_failures < 1:
            raise errors.ConfigError("unreachable_after_failures must be at least 1")
        object.__setattr__(self, "excluded_namespaces", frozenset(self.excluded_namespaces))
