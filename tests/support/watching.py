"""A ``KubeClient`` watch checked end to end: read in bulk, every event in order."""

from __future__ import annotations

from federation.kube.client import KubeClient, _chunked_body
from federation.kube.resources import CONFIG_MAP


def configmaps_watched_in_bulk(client: KubeClient, namespace: str, resource_version: str,
                               count: int = 5) -> list[str]:
    """Watch ConfigMaps from ``resource_version``, check the body is read in bulk
    (``kube.chunked``, not urllib3's per-chunk reads), create ``count`` of them in
    ``namespace``; the names of the ADDED events, in the order they came."""
    stream = client.watch(CONFIG_MAP, resource_version, timeout_seconds=30,
                          field_selector=f"metadata.namespace={namespace}")
    try:
        assert _chunked_body(stream._response) is not None
        for i in range(count):
            client.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body={
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}, "data": {"i": str(i)}})
        names = []
        for event in stream:
            if event["type"] == "ADDED":
                names.append(event["object"]["metadata"]["name"])
            if len(names) == count:
                break
        return names
    finally:
        stream.close()
