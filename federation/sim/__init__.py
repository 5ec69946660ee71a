"""Simulated member clusters: a Kubernetes-compatible API server for tests, the demo and benchmarks.

``SimCluster`` is one cluster (object store + HTTPS API with bearer-token auth,
discovery, CRUD, server-side apply, watches, fault injection); ``SimFleet``
runs N of them with one CA and writes their kubeconfigs; ``schemas`` loads CRD
schemas and validates objects; ``workloads`` builds and seeds cluster content.
"""

from federation.sim.cluster import SimCluster
from federation.sim.fleet import SimFleet
from federation.sim.schemas import SchemaSet, load_crd_schemas

__all__ = ["SimCluster", "SimFleet", "SchemaSet", "load_crd_schemas"]
