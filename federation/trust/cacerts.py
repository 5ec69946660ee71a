"""The ``istio-system/cacerts`` Secret that plugs a cluster's intermediate into istiod (pure).

istiod reads ``ca-cert.pem`` (its signing CA), ``ca-key.pem``, ``cert-chain.pem``
(the CA then up to the root) and ``root-cert.pem`` (the roots its workloads trust:
two during a rotation).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Mapping

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL

SECRET_NAME = "cacerts"
SECRET_NAMESPACE = "istio-system"
SOURCE_LABEL = "federation.mesh/source"
SOURCE = "trust"
STEP_ANNOTATION = "federation.mesh/trust-rotation-step"
ROOTS_ANNOTATION = "federation.mesh/trust-roots"
INTERMEDIATE_ANNOTATION = "federation.mesh/intermediate-fingerprint"


def _pem_block(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


@dataclass(frozen=True)
class CACerts:
    """What one cluster's istiod must hold; ``roots`` are the bundled root ids."""

    ca_cert_pem: str
    ca_key_pem: str = field(repr=False)
    cert_chain_pem: str
    root_cert_pem: str
    roots: tuple[str, ...] = ()
    step: int = 0
    intermediate_fingerprint: str = ""

    def data(self) -> dict[str, str]:
        """The Secret's ``data``: each file base64-encoded."""
        files = {
            "ca-cert.pem": self.ca_cert_pem,
            "ca-key.pem": self.ca_key_pem,
            "cert-chain.pem": self.cert_chain_pem,
            "root-cert.pem": self.root_cert_pem,
        }
        return {name: base64.b64encode(_pem_block(text).encode()).decode()
                for name, text in files.items()}

    def secret(self, extra_labels: Mapping[str, str] | None = None) -> dict:
        """The Kubernetes Secret object, ready for server-side apply."""
        labels = {MANAGED_BY_LABEL: MANAGED_BY, SOURCE_LABEL: SOURCE}
        labels.update(extra_labels or {})
        annotations = {STEP_ANNOTATION: str(int(self.step)), ROOTS_ANNOTATION: ",".join(self.roots)}
        if self.intermediate_fingerprint:
            annotations[INTERMEDIATE_ANNOTATION] = self.intermediate_fingerprint
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": SECRET_NAMESPACE,
                         "labels": labels, "annotations": annotations},
            "type": "Opaque",
            "data": self.data(),
        }


def build_cacerts(*, intermediate_cert_pem: str, intermediate_key_pem: str,
                  issuer_root_pem: str, bundle_pems: list[str], roots: tuple[str, ...] = (),
                  step: int = 0, intermediate_fingerprint: str = "") -> CACerts:
    """``cert-chain.pem`` is the intermediate then its issuing root; ``root-cert.pem``
    every bundled root."""
    chain = _pem_block(intermediate_cert_pem) + _pem_block(issuer_root_pem)
    bundle = "".join(_pem_block(p) for p in bundle_pems)
    return CACerts(ca_cert_pem=_pem_block(intermediate_cert_pem),
                   ca_key_pem=_pem_block(intermediate_key_pem), cert_chain_pem=chain,
                   root_cert_pem=bundle, roots=tuple(roots), step=int(step),
                   intermediate_fingerprint=intermediate_fingerprint)


def decode_secret_file(secret: Mapping, name: str) -> str:
    """One file of a cacerts Secret dict, decoded (for the pusher's comparisons and tests)."""
    return base64.b64decode(secret["data"][name]).decode()
