"""Every key the hub keeps in the store, in one place (all below the store's prefix).

Layout (the strings never change: stored data must stay readable)::

    clusters/<name>                        a member's registration (its kubeconfig sealed)
    cluster-ids/<kube-system UID>          the name that API server is registered as
    removing/<name>                        a cluster whose cleanup has not completed
    policies/<kind>/<namespace>/<name>     an applied resource (FailoverPolicy, WorkloadGroup)
    status/<cluster>                       a cluster's push status, shared by the replicas
    summaries/services/<cluster>/<ns>/<name>, summaries/clusters/<cluster>
                                           what each cluster contributes to the mesh
    hub/identity                           this installation's hub identity, set once
    replicas/<replica id>                  lease-bound: present while that replica is live
    trust/...                              roots, intermediates, rotation (``TrustKeys``)
    vms/tokens/<sha256 of token>           a bootstrap token (never the token itself)
    vms/records/<vm name>                  a VM's registration
    vms/serials/<serial hex>               which VM a workload certificate serial belongs to
    vms/alive/<vm name>                    on a lease of TTL ``vm_grace``: while the VM heartbeats
"""

from __future__ import annotations

from dataclasses import dataclass


class Keys:
    CLUSTERS = "clusters/"
    CLUSTER_IDS = "cluster-ids/"  # a cluster's kube-system UID -> the name it is registered as
    REMOVING = "removing/"  # clusters whose cleanup has not completed
    POLICIES = "policies/"
    STATUS = "status/"
    SUMMARY_SERVICES = "summaries/services/"
    SUMMARY_CLUSTERS = "summaries/clusters/"
    HUB_ID = "hub/identity"  # this installation's hub identity, set once
    REPLICAS = "replicas/"  # lease-bound membership of the live replicas
    TRUST = "trust/"
    VMS = "vms/"
    VM_TOKENS = VMS + "tokens/"
    VM_RECORDS = VMS + "records/"
    VM_SERIALS = VMS + "serials/"
    VM_ALIVE = VMS + "alive/"

    @staticmethod
    def cluster(name: str) -> str:
        return f"{Keys.CLUSTERS}{name}"

    @staticmethod
    def cluster_id(uid: str) -> str:
        return f"{Keys.CLUSTER_IDS}{uid}"

    @staticmethod
    def policy(kind: str, namespace: str, name: str) -> str:
        return f"{Keys.POLICIES}{kind}/{namespace}/{name}"

    @staticmethod
    def policies(kind: str) -> str:
        """The prefix of every resource of ``kind``."""
        return f"{Keys.POLICIES}{kind}/"

    @staticmethod
    def replica(replica_id: str) -> str:
        return f"{Keys.REPLICAS}{replica_id}"

    @staticmethod
    def vm_token(digest: str) -> str:
        return f"{Keys.VM_TOKENS}{digest}"

    @staticmethod
    def vm_record(name: str) -> str:
        return f"{Keys.VM_RECORDS}{name}"

    @staticmethod
    def vm_serial(serial: str) -> str:
        return f"{Keys.VM_SERIALS}{serial}"

    @staticmethod
    def vm_alive(name: str) -> str:
        return f"{Keys.VM_ALIVE}{name}"


@dataclass(frozen=True)
class TrustKeys:
    """Store keys of the trust state, all under ``prefix``."""

    prefix: str = Keys.TRUST

    @property
    def rotation(self) -> str:
        return f"{self.prefix}rotation"

    @property
    def roots(self) -> str:
        return f"{self.prefix}roots/"

    def root(self, root_id: str) -> str:
        return f"{self.roots}{root_id}"

    @property
    def intermediates(self) -> str:
        return f"{self.prefix}intermediates/"

    def intermediate(self, cluster: str) -> str:
        return f"{self.intermediates}{cluster}"

    @property
    def workload_issuer(self) -> str:
        # Outside ``intermediates/`` so the hub is never counted as a member cluster.
        return f"{self.prefix}hub/workload-intermediate"

    def confirmations(self, rotation_id: str, step: int | None = None) -> str:
        base = f"{self.prefix}confirmations/{rotation_id}/"
        return base if step is None else f"{base}{int(step)}/"

    def confirmation(self, rotation_id: str, step: int, kind: str, name: str) -> str:
        return f"{self.confirmations(rotation_id, step)}{kind}/{name}"
