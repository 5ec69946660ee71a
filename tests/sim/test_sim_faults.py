"""Fault injection: failing requests, latency, cut watches, going offline and back."""

from __future__ import annotations

import http.client
import json
import threading

import pytest
import urllib3
from kubernetes import client

from .helpers import http_request, open_connection
from tests.support import wait_for

# How a reader sees a stream cut mid-way: an unfinished chunked body or a reset socket.
STREAM_ERRORS = (http.client.IncompleteRead, ConnectionError, OSError)


def config_map(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}


def test_fail_next_fails_exactly_that_many_requests(cluster, api_client):
    core = client.CoreV1Api(api_client)
    cluster.fail_next(2, status=500)
    for _ in range(2):
        with pytest.raises(client.ApiException) as info:
            core.list_namespaced_config_map("default")
        assert info.value.status == 500
        assert json.loads(info.value.body)["reason"] == "InternalError"
    assert core.list_namespaced_config_map("default").items == []


def test_failure_rate_applies_to_resource_requests_not_discovery(cluster):
    cluster.set_failure_rate(1.0, status=503)
    status, headers, body = http_request(cluster, "GET", "/api/v1/namespaces")
    assert status == 503 and headers["retry-after"] == "1" and json.loads(body)["code"] == 503
    assert http_request(cluster, "GET", "/apis")[0] == 200
    cluster.set_failure_rate(0.0)
    assert http_request(cluster, "GET", "/api/v1/namespaces")[0] == 200


def test_latency_makes_a_short_client_timeout_expire(cluster, api_client):
    api_client.configuration.retries = 0
    core = client.CoreV1Api(api_client)
    cluster.set_latency(1.0)
    with pytest.raises(urllib3.exceptions.MaxRetryError) as info:
        core.list_namespace(_request_timeout=0.2)
    assert isinstance(info.value.reason, urllib3.exceptions.ReadTimeoutError)
    cluster.set_latency(0)
    assert core.list_namespace(_request_timeout=5).items


def _open_watch(cluster, path: str):
    conn = open_connection(cluster, timeout=5.0)
    conn.request("GET", path, headers={"Authorization": f"Bearer {cluster.token}"})
    resp = conn.getresponse()
    assert resp.status == 200
    return conn, resp


def test_cut_watches_resets_open_streams(cluster):
    cluster.create(config_map("a"))
    conn, resp = _open_watch(cluster, "/api/v1/namespaces/default/configmaps?watch=1")
    try:
        first = json.loads(resp.readline())
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "a")
        wait_for(lambda: cluster.active_watches() == 1, what="one open watch")
        assert cluster.cut_watches() == 1
        with pytest.raises(STREAM_ERRORS):
            while resp.read(1024):  # bounded: the server closes the stream
                pass
        wait_for(lambda: cluster.active_watches() == 0, what="no open watch")
    finally:
        conn.close()


def test_graceful_cut_ends_streams_normally(cluster):
    conn, resp = _open_watch(cluster, "/api/v1/namespaces/default/configmaps?watch=1")
    try:
        wait_for(lambda: cluster.active_watches() == 1, what="one open watch")
        cluster.cut_watches(graceful=True)
        assert resp.read() == b""  # complete chunked body: the stream simply ended
    finally:
        conn.close()


def test_watch_timeout_seconds_ends_the_stream(cluster):
    conn, resp = _open_watch(cluster, "/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1")
    try:
        assert resp.read() == b""
    finally:
        conn.close()


def test_offline_cluster_is_unreachable_then_back_on_the_same_address(cluster, api_client):
    core = client.CoreV1Api(api_client)
    cluster.create(config_map("kept"))
    url = cluster.url
    cluster.go_offline()
    api_client.configuration.retries = 0
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        client.CoreV1Api(api_client).list_namespaced_config_map("default", _request_timeout=2)
    cluster.go_online()
    assert cluster.url == url
    assert [c.metadata.name for c in core.list_namespaced_config_map("default").items] == ["kept"]


def test_offline_ends_open_watches(cluster):
    conn, resp = _open_watch(cluster, "/api/v1/namespaces/default/configmaps?watch=1")
    try:
        wait_for(lambda: cluster.active_watches() == 1, what="one open watch")
        done = threading.Event()

        def drain():
            try:
                while resp.read(1024):
                    pass
            except STREAM_ERRORS:
                pass
            done.set()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        cluster.go_offline()
        assert done.wait(5.0)
        reader.join(1.0)
        assert cluster.active_watches() == 0
    finally:
        conn.close()
        cluster.go_online()
