"""mesh-federation: a multi-cluster federation control service for Istio meshes.

Layers (see DESIGN.md): ``model`` (pure data) → ``sources`` (watchers) → ``registry``
(snapshots) → ``render`` (pure) → ``push`` (per-cluster writers); ``store`` holds
shared state, ``trust`` the CA, ``api`` the gRPC surface. The simulated clusters
(``kubesim``), the benchmark (``bench``) and the proto generator (``tools``) live beside
this package in the checkout, not in it.
"""

__version__ = "0.1.0"
