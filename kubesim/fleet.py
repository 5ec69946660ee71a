"""``SimFleet``: N simulated member clusters sharing one per-run CA.

Cluster ``cluster-i`` listens on its own loopback address ``127.0.i.1`` (so
every cluster has a distinct IP, as real ones do); when such an address cannot
be bound, it falls back to its own port on 127.0.0.1. The fleet writes
``<workdir>/kubeconfigs/<cluster>.yaml`` for each cluster, then
``<workdir>/ready`` (JSON: name, url and kubeconfig path of each cluster),
which it removes again when it stops.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from federation.errors import ClusterError, ConfigError
from kubesim.certs import SimCA
from kubesim.cluster import SimCluster
from kubesim.schemas import SchemaSet, load_crd_schemas

log = logging.getLogger(__name__)

MAX_CLUSTERS = 254


class SimFleet:
    """N ``SimCluster`` servers, their kubeconfigs and a readiness marker."""

    def __init__(self, n: int, workdir: str | os.PathLike, schemas_dir: str | os.PathLike | None = None, *,
                 schemas: SchemaSet | None = None, port: int = 0, numbers: Sequence[int] | None = None,
                 **cluster_options: Any):
        """``numbers``: which of clusters 1..n this fleet serves (default all), for a fleet
        split over processes; each keeps the name and address it has in the whole fleet."""
        if not 1 <= n <= MAX_CLUSTERS:
            raise ConfigError(f"a fleet has 1..{MAX_CLUSTERS} clusters, not {n}")
        self.numbers = list(range(1, n + 1)) if numbers is None else list(numbers)
        if not self.numbers or len(set(self.numbers)) != len(self.numbers) \
                or any(not 1 <= i <= n for i in self.numbers):
            raise ConfigError(f"a fleet serves distinct clusters among 1..{n}, not {self.numbers}")
        self.n = n
        self.workdir = Path(workdir)
        if schemas is None and schemas_dir is not None:
            schemas = load_crd_schemas(schemas_dir)
        self.schemas = schemas
        self.port = port
        self.ca = SimCA()
        self._options = cluster_options
        self.clusters: list[SimCluster] = []

    @property
    def kubeconfig_dir(self) -> Path:
        return self.workdir / "kubeconfigs"

    @property
    def ready_path(self) -> Path:
        return self.workdir / "ready"

    def kubeconfig_path(self, name: str) -> Path:
        return self.kubeconfig_dir / f"{name}.yaml"

    def __getitem__(self, name: str) -> SimCluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)

    def __iter__(self):
        return iter(self.clusters)

    def __enter__(self) -> "SimFleet":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, before_ready: Callable[["SimFleet"], None] | None = None) -> "SimFleet":
        """Start every cluster, write kubeconfigs, run ``before_ready`` (e.g. seeding), then the ready file."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ready_path.unlink(missing_ok=True)
        try:
            for index in self.numbers:
                self.clusters.append(self._start_cluster(index))
            if before_ready is not None:
                before_ready(self)
            for cluster in self.clusters:
                cluster.write_kubeconfig(self.kubeconfig_path(cluster.name))
            (self.workdir / "ca.crt").write_bytes(self.ca.cert_pem)
            listing = [{"name": c.name, "url": c.url, "kubeconfig": str(self.kubeconfig_path(c.name))}
                       for c in self.clusters]
            tmp = self.ready_path.with_name("ready.tmp")
            tmp.write_text(json.dumps({"clusters": listing}, indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.ready_path)
        except BaseException:
            self.stop()
            raise
        log.info("sim fleet ready", extra={"fields": {"clusters": len(self.clusters), "workdir": str(self.workdir)}})
        return self

    def _start_cluster(self, index: int) -> SimCluster:
        name = f"cluster-{index}"
        try:
            return SimCluster(name, host=f"127.0.{index}.1", port=self.port, schemas=self.schemas, ca=self.ca,
                              **self._options).start()
        except ClusterError as exc:
            log.info("sim cluster falls back to 127.0.0.1",
                     extra={"fields": {"cluster": name, "reason": str(exc)}})
        port = self.port + index if self.port else 0
        return SimCluster(name, host="127.0.0.1", port=port, schemas=self.schemas, ca=self.ca,
                          **self._options).start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop all clusters in parallel (bounded); remove the ready file."""
        self.ready_path.unlink(missing_ok=True)
        results: dict[str, bool] = {}
        threads = [threading.Thread(target=lambda c=c: results.__setitem__(c.name, c.stop(timeout)),
                                    name=f"sim-stop-{c.name}", daemon=True) for c in self.clusters]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout + 1.0)
        self.clusters = []
        return all(results.values()) and not any(t.is_alive() for t in threads)
