"""The pinned versions of the peers and where their binaries are cached.

The cache lives outside the checkout (``$XDG_CACHE_HOME`` or ``~/.cache``,
``mesh-federation/peers/<module>-<version>/``), so every checkout and worktree
shares one build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ISTIO_MODULE = "istio.io/istio"
ISTIO_VERSION = "v0.0.0-20260827124520-eed52ebb66ad"
KUBE_MODULE = "k8s.io/kubernetes"
KUBE_VERSION = "v1.37.2"
KUBE_WRAPPER = Path(__file__).resolve().parent / "kubewrapper"

STAMP_NAME = "stamp.json"


def cache_root() -> Path:
    """``$MESH_FEDERATION_PEERS_CACHE`` or ``<XDG cache>/mesh-federation/peers``."""
    override = os.environ.get("MESH_FEDERATION_PEERS_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mesh-federation" / "peers"


@dataclass(frozen=True)
class Bundle:
    """One Go module build: the binaries it yields, installed into one cache directory."""

    name: str          # "istio" / "kube"
    module: str
    version: str
    directory: str     # under cache_root()
    binaries: tuple[str, ...]
    packages: tuple[str, ...]  # import paths, one per binary
    ldflags: str = ""          # recorded in the stamp: a binary built with other flags is rebuilt

    @property
    def path(self) -> Path:
        return cache_root() / self.directory

    def binary(self, name: str) -> Path:
        return self.path / name

    @property
    def stamp(self) -> Path:
        return self.path / STAMP_NAME


ISTIO = Bundle("istio", ISTIO_MODULE, ISTIO_VERSION, f"istio-{ISTIO_VERSION.rsplit('-', 1)[-1]}",
               ("pilot-discovery", "istioctl"),
               (f"{ISTIO_MODULE}/pilot/cmd/pilot-discovery", f"{ISTIO_MODULE}/istioctl/cmd/istioctl"))
# What Kubernetes' own build stamps in (hack/lib/version.sh), so /version tells the truth.
_KUBE_MAJOR, _KUBE_MINOR = KUBE_VERSION.lstrip("v").split(".")[:2]
KUBE_LDFLAGS = " ".join(f"-X k8s.io/component-base/version.{key}={value}" for key, value in (
    ("gitVersion", KUBE_VERSION), ("gitMajor", _KUBE_MAJOR), ("gitMinor", _KUBE_MINOR),
    ("gitTreeState", "clean")))
KUBE = Bundle("kube", KUBE_MODULE, KUBE_VERSION, f"kube-{KUBE_VERSION}",
              ("kube-apiserver",), (f"{KUBE_MODULE}/cmd/kube-apiserver",), KUBE_LDFLAGS)
BUNDLES = (ISTIO, KUBE)
