"""State store: the ``Store`` protocol with an etcd backend and an in-memory one.

All hub state (clusters, policies, VM leases, tokens, encrypted CA material,
status) lives here under one key prefix, every key spelled in ``keys``;
``open_store`` picks the backend.
"""

from __future__ import annotations

from federation import errors
from federation.store.base import (  # noqa: F401
    Compare, Delete, KeyValue, Lease, Put, Store, Watch, WatchEvent,
)
from federation.store.memory import MemoryStore  # noqa: F401

DEFAULT_PREFIX = "/mesh-federation/"


def open_store(url: str | None, *, prefix: str = DEFAULT_PREFIX, timeout: float = 5.0,
               ca_cert: str | None = None, cert_key: str | None = None,
               cert_cert: str | None = None) -> Store:
    """Open the store named by ``url``.

    ``None`` or ``memory://`` → in-memory; ``etcd://host:port[,host:port]``,
    ``http://host:port[,...]`` or ``https://host:port[,...]`` (with ``ca_cert``)
    → etcd. Anything else raises ``ConfigError``.
    """
    if url is None or url.strip() in ("memory://", "memory:", "memory"):
        return MemoryStore(prefix=prefix)
    scheme, sep, rest = url.strip().partition("://")
    if not sep or scheme not in ("etcd", "http", "https") or not rest.strip("/"):
        raise errors.ConfigError(
            f"store URL {url!r}: expected memory://, etcd://host:port[,host:port] or http://host:port")
    if scheme == "https" and ca_cert is None:
        raise errors.ConfigError(f"store URL {url!r}: https needs a CA certificate (ca_cert)")
    from federation.store.etcd import EtcdStore  # keeps pyetcd/grpc out of memory-only use

    endpoints = [f"{scheme}://{part.strip()}" for part in rest.rstrip("/").split(",")]
    try:
        return EtcdStore(endpoints, prefix=prefix, timeout=timeout, ca_cert=ca_cert,
                         cert_key=cert_key, cert_cert=cert_cert)
    except errors.ConfigError as exc:
        raise errors.ConfigError(f"store URL {url!r}: {exc}") from exc
