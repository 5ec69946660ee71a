"""VM onboarding, hub side: WorkloadGroups, bootstrap tokens, enrollment, liveness.

An operator declares a ``WorkloadGroup`` (a hub resource) and creates a
bootstrap token for it; a VM's agent trades the token and a CSR for a workload
certificate on the onboarding listener, then heartbeats and renews over mTLS
on the session port. Liveness is a store key on a lease: while it lives the
hub renders the VM's WorkloadEntry into every member cluster.

Pure parts: ``groups`` (the resource), ``records`` (stored shapes and keys),
``bootstrap`` (the sidecar's files), ``limiting`` (per-peer failure buckets).
Activities: ``tokens``, ``registering`` (enroll, renew, heartbeat, revoke),
``serving`` (the gRPC listeners); ``running`` is the feature of one replica,
built by the hub's composition root; ``cli`` is ``federation vm``. Liveness is
read into the registry by ``federation.sources.vm_tracking``.
"""
