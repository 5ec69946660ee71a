"""Fixtures of the store tests: each backend under a unique prefix, and a thread-leak guard."""

from __future__ import annotations

import uuid

import pytest

from federation.store.memory import MemoryStore

try:
    from tests.etcd_server import EtcdServer, etcd_server  # noqa: F401  (re-exported fixture)
except ImportError:  # tests/ itself is on sys.path (rootdir not importable)
    from etcd_server import EtcdServer, etcd_server  # type: ignore[no-redef]  # noqa: F401





@pytest.fixture
def unique_prefix() -> str:
    return f"/test-{uuid.uuid4().hex[:12]}/"


@pytest.fixture(params=["memory", pytest.param("etcd", marks=pytest.mark.etcd)])
def store(request, unique_prefix):
    """A Store of each backend; etcd ones share the session's server under their own prefix."""
    if request.param == "memory":
        s = MemoryStore(prefix=unique_prefix)
    else:
        from federation.store.etcd import EtcdStore

        server = request.getfixturevalue("etcd_server")
        s = EtcdStore(server.url, prefix=unique_prefix, timeout=5.0)
    try:
        yield s
    finally:
        s.close()
