"""Sources: where the federation's inputs are read.

Each member cluster gets a ``ClusterWatcher`` (``cluster_watching``) built on
``Reflector``s (``reflecting``: list, watch, resume, relist on 410, back-off),
which derives ClusterInfo, ClusterServices and user-owned DestinationRule hosts
(``deriving``, pure) and hands ``ChangeSet``s of only what changed to the registry.
``settings`` holds how clusters are watched and which Services are exported.
VM liveness is the other source: ``vm_tracking`` follows the VMs' registrations,
alive keys and WorkloadGroups in the store and hands live VMs over as
``VMChange``s.
"""
