"""State store: the ``Store`` protocol with an etcd backend and an in-memory one.

All hub state (clusters, policies, VM leases, tokens, encrypted CA material,
status) lives here under one key prefix; ``open_store`` picks the backend.
"""

from federation.store.base import (  # noqa: F401
    Compare, Delete, KeyValue, Lease, Put, Store, Watch, WatchEvent,
)
