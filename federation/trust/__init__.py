"""Trust: the mesh's certificate authority.

One root (created or imported), a ``pathlen:0`` intermediate per member cluster
delivered as Istio's ``cacerts`` Secret, short-lived SPIFFE certificates for VM
workloads from a hub intermediate, and Istio's three-step root rotation as a
resumable plan. State lives in the Store with every private key sealed
(AES-GCM under a key-encryption key); nothing here logs or returns a root key.

Pure layers: ``certificates`` (keys, roots, intermediates), ``workload`` (CSR
checks, leaves), ``cacerts`` (the Secret), ``rotation`` (the plan's steps);
``sealing`` encrypts at rest; ``authority`` ties them to the Store.

In the hub: ``keeping`` (the thread that delivers every cluster's cacerts, a
source of per-cluster objects declared to the hub's reconciling, and drives
rotations), ``metrics``, and ``client``/``cli`` (``federation trust …``); the
hub's composition root serves the Trust gRPC service. These import the hub's
parts, so they are not re-exported here.
"""

from federation.trust.authority import ExpiryItem, TrustAuthority
from federation.trust.cacerts import CACerts, build_cacerts
from federation.trust.certificates import (
    ALGORITHMS, CertifiedKey, create_root, issue_intermediate, load_root, needs_renewal,
    renewal_due_at,
)
from federation.trust.rotation import RotationPlan, RotationProgress, Step, desired_cacerts
from federation.trust.sealing import ensure_kek_file, generate_kek_file, load_kek, seal, unseal
from federation.trust.workload import (
    DEFAULT_TTL, WorkloadCertificate, check_csr, issue_leaf, spiffe_id,
)

# The names the issue speaks of: a root is initialised or imported.
init_root = create_root
import_root = load_root

__all__ = [
    "ALGORITHMS", "CACerts", "CertifiedKey", "DEFAULT_TTL", "ExpiryItem", "RotationPlan",
    "RotationProgress", "Step", "TrustAuthority", "WorkloadCertificate", "build_cacerts",
    "check_csr", "create_root", "desired_cacerts", "ensure_kek_file", "generate_kek_file",
    "import_root", "init_root", "issue_intermediate", "issue_leaf", "load_kek", "load_root",
    "needs_renewal", "renewal_due_at", "seal", "spiffe_id", "unseal",
]
