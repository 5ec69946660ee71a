"""A running hub with three simulated member clusters (the pipeline's fixtures),
and the real-peer fixtures (a real kube-apiserver)."""

from tests.peers.support import kube_apiserver, peers_etcd, peers_workdir, real_binaries  # noqa: F401
from tests.pipeline.conftest import env, hub  # noqa: F401 - fixtures
