"""The Store protocol: what the hub needs from its state store.

Semantics follow etcd: one cluster-wide revision that increases on every write,
per-key create/mod revisions, watches that replay history from a revision,
leases whose expiry deletes the keys bound to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Literal, Protocol, Sequence


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


@dataclass(frozen=True)
class WatchEvent:
    type: Literal["PUT", "DELETE"]
    key: str
    value: bytes  # b"" for DELETE
    mod_revision: int


@dataclass(frozen=True)
class Lease:
    id: int
    ttl: int  # seconds granted


@dataclass(frozen=True)
class Compare:
    """Transaction guard: the key's mod revision equals ``mod_revision``
    (0 means the key must not exist)."""

    key: str
    mod_revision: int


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True)
class Delete:
    key: str


class Watch(Protocol):
    """An iterator of event batches; ``next_batch`` waits at most ``timeout``."""

    def next_batch(self, timeout: float) -> list[WatchEvent]:
        """Events in revision order, ``[]`` on timeout. Raises RevisionCompacted
        when the start revision was compacted away, StoreUnavailable on loss."""

    def cancel(self) -> None: ...

    def __iter__(self) -> Iterator[WatchEvent]: ...


class Store(Protocol):
    def get(self, key: str) -> KeyValue | None: ...

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        """Write a key; returns the new store revision."""

    def delete(self, key: str) -> bool:
        """Delete a key; True if it existed."""

    def range(self, prefix: str) -> tuple[list[KeyValue], int]:
        """All keys under ``prefix`` sorted by key, and the store revision read at."""

    def txn(self, compares: Sequence[Compare], on_success: Sequence[Put | Delete],
            on_failure: Sequence[Put | Delete] = ()) -> bool:
        """Atomically apply ``on_success`` if every compare holds, else ``on_failure``.
        Returns whether the compares held."""

    def compare_and_swap(self, key: str, value: bytes, mod_revision: int, lease: int = 0) -> bool:
        """Put ``key`` only if its mod revision is ``mod_revision`` (0: absent)."""

    def compare_and_delete(self, key: str, mod_revision: int) -> bool: ...

    def watch(self, prefix: str, start_revision: int = 0) -> Watch:
        """Watch keys under ``prefix``; with ``start_revision`` > 0 replay every
        event since that revision first (RevisionCompacted if it is gone)."""

    def grant_lease(self, ttl: int) -> Lease: ...

    def keep_alive(self, lease_id: int) -> int:
        """Refresh a lease; returns the remaining TTL. Raises LeaseLost if expired."""

    def revoke_lease(self, lease_id: int) -> None: ...

    def revision(self) -> int:
        """The current store revision."""

    def compact(self, revision: int) -> None:
        """Discard history before ``revision`` (used by operators and tests)."""

    def close(self) -> None: ...
