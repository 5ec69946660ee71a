"""The member-cluster record and how it is stored (under ``Keys.cluster``).

A cluster's kubeconfig holds credentials: it is stored sealed with the
key-encryption key and never leaves the hub in an answer or a log line.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from federation import errors
from federation.store.keys import Keys
from federation.trust.sealing import seal, unseal


@dataclass(frozen=True)
class ClusterRecord:
    name: str
    kubeconfig: str  # plaintext only in memory
    server: str = ""
    network: str = ""
    region: str = ""
    # What makes the API server unique: its kube-system Namespace's UID and the
    # SHA-256 of its CA bundle ("" in records stored before they were kept).
    uid: str = ""
    ca_sha256: str = ""
    istiod_ca: str = ""  # HOST:PORT of its istiod's TLS port, for rotation's intermediate check
    # Registration labels (``cluster add --label k=v``), sorted pairs: what import
    # selectors and MeshPolicy cluster selectors match. Absent in older records.
    labels: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # never print credentials
        return f"ClusterRecord(name={self.name!r}, server={self.server!r}, network={self.network!r})"


def dump_cluster_record(record: ClusterRecord, kek: bytes) -> bytes:
    key = Keys.cluster(record.name)
    sealed = seal(kek, key, record.kubeconfig.encode())
    return json.dumps({
        "name": record.name, "server": record.server, "network": record.network,
        "region": record.region, "kubeconfig": base64.b64encode(sealed).decode(),
        "uid": record.uid, "caSha256": record.ca_sha256, "istiodCa": record.istiod_ca,
        "labels": dict(record.labels),
    }).encode()


def load_cluster_record(value: bytes, kek: bytes) -> ClusterRecord:
    try:
        data = json.loads(value)
        name = data["name"]
        kubeconfig = unseal(kek, Keys.cluster(name), base64.b64decode(data["kubeconfig"])).decode()
        labels = tuple(sorted((str(k), str(v)) for k, v in (data.get("labels") or {}).items()))
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise errors.StoreError(f"stored cluster record unreadable: {exc.__class__.__name__}") from exc
    return ClusterRecord(name=name, kubeconfig=kubeconfig, server=data.get("server", ""),
                         network=data.get("network", ""), region=data.get("region", ""),
                         uid=data.get("uid", ""), ca_sha256=data.get("caSha256", ""),
                         istiod_ca=data.get("istiodCa", ""), labels=labels)
