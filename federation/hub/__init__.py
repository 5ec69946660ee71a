"""The running hub: everything between the sources and the pushers on one replica.

- ``members``: the runtime of each member cluster (watcher, pusher, ``ClusterState``)
  and its lifecycle;
- ``reconciling``: snapshot → desired objects per target cluster, through the one
  ``render`` entry point the pipeline and ``federation render`` share;
- ``sharding``: which replica pushes into which cluster (lease-bound membership,
  fencing); ``summaries``: last-known state and push statuses shared in the store;
- ``resources``: the hub resources ``federation apply`` stores (the PolicySet render
  reads: FailoverPolicies, TrafficSplits, MeshPolicies; and the kinds features add);
- ``removing``, ``cluster_identity``: removing and registering member clusters;
- ``control``: the admin operations, on a narrow view of the hub;
- ``app``: the ``Hub`` itself, small wiring of the above;
- ``service``: the one composition root, ``build(settings)``, and ``HubService``,
  which starts and stops what it built.
"""
