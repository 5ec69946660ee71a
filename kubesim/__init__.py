"""Simulated member clusters: a Kubernetes-compatible API server for tests, the demo and benchmarks.

Not the product: the hub (``federation``) never imports this package, and its
wheel does not contain it; it runs from the checkout (``python -m kubesim``,
``python -m kubesim.demo``), with the ``dev`` or ``demo`` extra's dependencies.

``SimCluster`` is one cluster (object store + HTTPS API with bearer-token auth,
discovery, CRUD, server-side apply, watches, fault injection); ``SimFleet``
runs N of them with one CA and writes their kubeconfigs; ``schemas`` loads CRD
schemas and validates objects; ``workloads`` builds and seeds cluster content;
``cli`` runs a fleet until stopped (``python -m kubesim``); ``demo`` is the
hub with three seeded clusters and a live view (``make demo``).

The reference is a real kube-apiserver: ``tests/conformance`` runs one suite
against both. Known, deliberate differences (each skipped for the simulator
in that suite, with this reason):

- CEL rules (``x-kubernetes-validations``) in CRD schemas are not evaluated,
  so e.g. a WorkloadEntry with neither ``address`` nor ``network`` is stored.
  The hub renders objects that satisfy them; a CEL engine is not worth it here.
- Server-side apply treats every list as atomic: the API server merges
  associative lists (``x-kubernetes-list-type: map``, Service ports, ...) by
  key, so a second applier adding an element neither conflicts nor replaces
  the others' elements. The hub applies whole objects it owns with force, so
  both give it the same result.

Differences in what is kept, not in behaviour: the API server's watch cache
serves watches and exact-resourceVersion lists for minutes past an etcd
compaction, the simulator keeps ``history`` events per kind and forgets them
at ``compact()``. ``sendInitialEvents`` works here; an API server over an etcd
without watch progress requests (Debian's 3.4) answers it with an ERROR event.

Differences that matter to no client of this project and are not tested:
field selectors accept the common ``metadata.*`` labels and a few per kind;
discovery has no aggregated (v2) form (clients fall back to the plain one);
``/openapi/v2`` is absent.

A deleted Namespace goes Terminating, as on the API server; by default the
simulator then acts as kube-controller-manager's namespace controller (content
removed, namespace finalized at once). ``namespace_controller=False`` leaves
it Terminating until ``PUT namespaces/<name>/finalize``, as an API server
running alone does (the conformance suite runs that way).
"""

from kubesim.cluster import SimCluster
from kubesim.fleet import SimFleet
from kubesim.schemas import SchemaSet, load_crd_schemas

__all__ = ["SimCluster", "SimFleet", "SchemaSet", "load_crd_schemas"]
