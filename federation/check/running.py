"""The hub's side of ``federation check``: the hub and its store, then every member
(probed in parallel with the hub's own member credentials), then the mesh-wide
agreement on mesh ID and trust domain."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from cryptography import x509

from federation import errors
from federation.catalog import load_cluster_record
from federation.check.findings import FAIL, OK, WARN, Finding, agreement
from federation.check.probing import MemberReport, probe_member
from federation.api.control import Control
from federation.check.reasons import explain
from federation.kube.client import KubeClient
from federation.settings import HubSettings
from federation.store import Store
from federation.store.keys import Keys
from federation.trust.authority import TrustAuthority
from federation.trust.certificates import fingerprint

log = logging.getLogger(__name__)

MAX_PARALLEL = 8


class Checker:
    """Runs the checks of a running hub: its status as the admin API answers it
    (``control``), its stored cluster records, and its trust ``authority``."""

    def __init__(self, control: Control, store: Store, kek: bytes, settings: HubSettings,
                 authority: TrustAuthority):
        self.control = control
        self.store = store
        self.kek = kek
        self.settings = settings
        self.authority = authority

    def run(self, cluster: str = "") -> list[Finding]:
        status = self.control.status()
        findings = self._hub(status)
        records = self._records()
        if cluster:
            records = [r for r in records if r.name == cluster]
            if not records:
                raise errors.NotFound(f"cluster {cluster!r} is not registered")
        roots, has_root = self._roots()
        by_name = {c.name: c for c in status.clusters}
        settings = self.settings

        def probe(record) -> MemberReport:
            kube = KubeClient(record.name, record.kubeconfig, timeout=min(settings.cluster_timeout, 10.0),
                              allow=settings.kubeconfig_options)
            try:
                report = probe_member(kube, hub_roots=roots, has_root=has_root,
                                      network=record.network, trust_domain=settings.trust_domain)
            finally:
                kube.close()
            report.findings.insert(0, _sync_finding(record.name, by_name.get(record.name)))
            return report

        reports: list[MemberReport] = []
        if records:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(records)),
                                    thread_name_prefix="check") as pool:
                reports = list(pool.map(probe, records))
        for report in reports:
            findings.extend(report.findings)
        if len(reports) > 1 or (reports and not cluster):
            fix = "install every member's Istio with the same values.global.meshID and meshConfig.trustDomain"
            findings.append(agreement("mesh ID", {r.cluster: r.mesh_id for r in reports}, fix))
            findings.append(agreement("trust domain", {r.cluster: r.trust_domain for r in reports}, fix))
        return findings

    def _records(self):
        items, _ = self.store.range(Keys.CLUSTERS)
        return sorted((load_cluster_record(kv.value, self.kek) for kv in items), key=lambda r: r.name)

    def _roots(self) -> tuple[tuple[str, ...], bool]:
        if not self.authority.has_root():
            return (), False
        pems = self.authority.trust_bundle().encode()
        return tuple(fingerprint(c) for c in x509.load_pem_x509_certificates(pems)), True

    def _hub(self, status) -> list[Finding]:
        out = [Finding("hub", "hub API answering", OK,
                       f"version {status.version}, hub id {status.hub_id or '?'}")]
        if status.store_health == "ok":
            out.append(Finding("hub", "state store healthy", OK, status.store_backend))
        else:
            out.append(Finding("hub", "state store healthy", FAIL,
                               f"{status.store_backend}: {status.store_health}",
                               "check the etcd endpoints given to --store and etcd's health"))
        if status.store_backend == "memory":
            out.append(Finding("hub", "state survives a restart", WARN, "the store is in memory",
                               "run the hub with --store etcd://HOST:PORT (deploy/hub overlays)"))
        if self.authority.has_root():
            out.append(Finding("hub", "mesh root exists", OK, "the members get their cacerts from it"))
        else:
            out.append(Finding("hub", "mesh root exists", FAIL, "no mesh root: no member gets cacerts",
                               "federation trust init (or trust import --cert --key)"))
        out.append(Finding("hub", "member clusters registered",
                           OK if status.clusters else FAIL, f"{len(status.clusters)} cluster(s)",
                           "federation cluster add NAME --kubeconfig FILE"))
        return out


def _sync_finding(name: str, cluster) -> Finding:
    check = "hub syncs the cluster"
    if cluster is None:
        return Finding(name, check, FAIL, "not running on the hub yet", "see federation status")
    if cluster.synced and not cluster.error:
        return Finding(name, check, OK, f"synced, {cluster.objects} object(s)")
    return Finding(name, check, FAIL, f"{cluster.state}: {explain(cluster)}",
                   "see the checks below and federation status --watch")
