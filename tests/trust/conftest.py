"""Fixtures of the trust tests: a store, a KEK, a settable clock, an authority
and an ``openssl`` runner (helpers live in ``helpers``)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from federation.store.memory import MemoryStore
from federation.trust import TrustAuthority

from .helpers import Clock, OpenSSL

try:
    from tests.etcd_server import EtcdServer, etcd_server  # noqa: F401  (re-exported fixture)
except ImportError:  # tests/ itself is on sys.path (rootdir not importable)
    from etcd_server import EtcdServer, etcd_server  # type: ignore[no-redef]  # noqa: F401





@pytest.fixture
def kek() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store():
    s = MemoryStore()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def authority(store, kek, clock) -> TrustAuthority:
    return TrustAuthority(store, kek, clock=clock)


@pytest.fixture
def rooted(authority) -> TrustAuthority:
    authority.init_root()
    return authority


@pytest.fixture
def openssl():
    if shutil.which("openssl") is None:
        reason = "the openssl binary is not on PATH"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="trust-openssl-"))
    try:
        yield OpenSSL(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
