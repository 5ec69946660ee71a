"""Failures of the store: unreachable etcd, a dying etcd, bad store URLs."""

from __future__ import annotations

import socket
import time

import pytest

from federation import errors
from federation.store import MemoryStore, open_store
from federation.store.etcd import EtcdStore

from .conftest import EtcdServer
from .test_contract import collect


def closed_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("call", [
    lambda s: s.get("k"),
    lambda s: s.put("k", b"v"),
    lambda s: s.range(""),
    lambda s: s.compare_and_swap("k", b"v", 0),
    lambda s: s.grant_lease(5),
    lambda s: s.keep_alive(1),
    lambda s: s.watch(""),
], ids=["get", "put", "range", "cas", "grant_lease", "keep_alive", "watch"])
def test_unreachable_etcd_raises_store_unavailable_naming_the_endpoint_within_timeout(call):
    endpoint = f"127.0.0.1:{closed_port()}"
    timeout = 2.0
    store = EtcdStore([endpoint], timeout=timeout)
    try:
        started = time.monotonic()
        with pytest.raises(errors.StoreUnavailable) as info:
            call(store)
        elapsed = time.monotonic() - started
    finally:
        store.close()
    assert endpoint in str(info.value)
    assert isinstance(info.value, errors.Transient)
    assert elapsed < timeout + 1.0


@pytest.mark.etcd
def test_watch_surfaces_store_unavailable_when_etcd_dies_and_resumes_after_restart(unique_prefix):
    with EtcdServer() as server:
        store = EtcdStore(server.url, prefix=unique_prefix, timeout=2.0)
        try:
            watch = store.watch("w/")
            seen = store.put("w/a", b"1")
            assert [e.key for e in collect(watch, 1)] == ["w/a"]

            server.kill()
            with pytest.raises(errors.StoreUnavailable):
                collect(watch, 1, timeout=20.0)
            with pytest.raises(errors.StoreUnavailable):  # the failure sticks
                watch.next_batch(0.1)
            watch.cancel()

            server.restart()
            deadline = time.monotonic() + 10.0
            while True:  # bounded retry while gRPC reconnects
                try:
                    rev = store.put("w/b", b"2")
                    break
                except errors.StoreUnavailable:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            resumed = store.watch("w/", start_revision=seen + 1)
            try:
                assert [(e.key, e.mod_revision) for e in collect(resumed, 1)] == [("w/b", rev)]
            finally:
                resumed.cancel()
        finally:
            store.close()


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1:2379", "etcd://", "etcd://no-port", "etcd://host:notaport",
    "etcd://host:70000", "http://a:1/some/path", "memory://extra", "127.0.0.1:2379", "",
    "https://127.0.0.1:2379",
])
def test_open_store_with_a_bad_url_raises_config_error_naming_it(url):
    with pytest.raises(errors.ConfigError) as info:
        open_store(url)
    assert repr(url) in str(info.value)


@pytest.mark.parametrize("url", [None, "memory://"])
def test_open_store_without_url_or_memory_url_is_in_memory(url):
    store = open_store(url)
    try:
        assert isinstance(store, MemoryStore)
    finally:
        store.close()


@pytest.mark.parametrize("url", [
    "etcd://127.0.0.1:2379", "etcd://127.0.0.1:2379,127.0.0.2:2379", "http://127.0.0.1:2379",
])
def test_open_store_with_an_etcd_url_is_etcd(url):
    store = open_store(url)
    try:
        assert isinstance(store, EtcdStore)
    finally:
        store.close()


def test_etcd_store_with_a_bad_endpoint_raises_config_error():
    with pytest.raises(errors.ConfigError, match="not-an-endpoint"):
        EtcdStore(["not-an-endpoint"])
