"""Real-peer fixtures for this package (other packages import them the same way)."""

from tests.peers.support import (  # noqa: F401  (fixtures)
    kube_apiserver, peers_etcd, peers_workdir, real_binaries, real_fleet_factory, shared_crds,
)
