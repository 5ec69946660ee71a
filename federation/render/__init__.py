"""Rendering: pure functions from (snapshot, policies, target cluster) to the Istio and
Kubernetes objects (plain dicts) the hub writes into that cluster, with the
names, labels and hashes the pusher uses to apply, compare and prune them.
No I/O, clock, logging or client imports.
"""

from federation.render.naming import object_hash  # noqa: F401
from federation.render.rendering import (  # noqa: F401
    EVERYTHING, Rendered, Scope, conflicts, render_cluster, render_gateways, render_namespaces,
    render_service, render_target,
)
