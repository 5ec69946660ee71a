"""Real member clusters for tests, e2e and benchmarks; not part of the product.

``make peers`` builds (pinned, cached outside the checkout) the real programs a
member cluster runs: ``kube-apiserver`` from ``k8s.io/kubernetes``,
``pilot-discovery`` and ``istioctl`` from ``istio.io/istio``. The modules here
start them on loopback ports: ``etcd`` (one etcd), ``apiserver`` (one API
server with its own certificates, RBAC and service-account tokens),
``member`` (a bootstrapped cluster: CRDs, istio-system, Nodes, east-west
gateway, workloads written without a kubelet or controller-manager),
``istiod`` (one pilot-discovery reading only its cluster, its CA plugged in
from ``istio-system/cacerts`` as a kubelet would mount it) and ``fleet``
(N members on one etcd).
"""
