"""The reference: a real kube-apiserver (from the peers launcher) on a real etcd, with the CRDs installed.

``RealServer`` starts etcd and the API server, installs every CRD the simulator
serves (the files ``kubesim.schemas.CRD_FILES`` names under ``../shared``)
and waits until each is Established and listed by discovery. ``compact`` compacts
etcd at its current revision, so a watch from an older resourceVersion gets 410.
Without the built binary the tests skip (they fail under CI, where it must exist).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from kubesim.schemas import CRD_FILES
from tests.conformance import support
from tests.support import wait_for

CRD_TIMEOUT = 30.0
SERVICE_CIDR = "10.96.0.0/16"


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


class RealServer:
    def __init__(self, workdir: Path, shared_dir: Path):
        self.workdir = Path(workdir)
        self.shared_dir = shared_dir
        self.etcd = None
        self.apiserver = None
        self.url = ""
        self.ca_pem = b""
        self.kubeconfig = Path()

    def start(self) -> None:
        try:
            from peers.apiserver import KubeAPIServer
            from peers.binaries import stamp_problem
            from peers.etcd import EtcdProcess
            from peers.versions import KUBE
        except ImportError as exc:
            _missing(f"the kube-apiserver launcher (peers) is not available: {exc}")
        problem = stamp_problem(KUBE)
        if problem:
            _missing(f"kube-apiserver {KUBE.version} is not built ({problem}): run `make peers`")
        binary = KUBE.binary("kube-apiserver")
        try:
            self.etcd = EtcdProcess(self.workdir / "etcd", name="conformance")
            self.etcd.start()
            self.apiserver = KubeAPIServer("conformance", self.workdir / "apiserver", self.etcd.url, SERVICE_CIDR,
                                           binary=binary)
            self.apiserver.start()
            self.url = self.apiserver.server
            self.ca_pem = self.apiserver.ca_pem
            self.kubeconfig = self.apiserver.admin_kubeconfig
            self._install_crds()
        except BaseException:
            self.stop()
            raise

    def _crds(self) -> list[dict]:
        out = []
        for rel in CRD_FILES:
            for doc in yaml.safe_load_all((self.shared_dir / rel).read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    out.append(doc)
        return out

    def _install_crds(self) -> None:
        api = support.Api(support.KUBE, self.url, self.ca_pem, self.kubeconfig, expire_history=self.compact)
        client = api.client()
        try:
            crds = self._crds()
            base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
            for crd in crds:
                resp = support.call(client, "POST", base, crd)
                assert resp.status in (201, 409), f"installing CRD {crd['metadata']['name']}: {resp.body}"

            def established(name: str) -> bool:
                got = support.call(client, "GET", f"{base}/{name}").body or {}
                return any(c.get("type") == "Established" and c.get("status") == "True"
                           for c in (got.get("status") or {}).get("conditions") or [])

            for crd in crds:
                wait_for(lambda: established(crd["metadata"]["name"]), CRD_TIMEOUT,
                         what=f"CRD {crd['metadata']['name']} Established")
                group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
                for version in (v["name"] for v in crd["spec"]["versions"] if v.get("served")):
                    def served(group=group, version=version, plural=plural) -> bool:
                        doc = support.call(client, "GET", f"/apis/{group}/{version}")
                        return doc.status == 200 and any(r["name"] == plural for r in doc.body["resources"])
                    wait_for(served, CRD_TIMEOUT, what=f"discovery of {plural}.{group}/{version}")
        finally:
            api.close_clients()

    def compact(self) -> None:
        """Compact etcd at its current revision (the API server's own compaction, made now)."""
        import pyetcd

        client = pyetcd.client(host="127.0.0.1", port=self.etcd.client_port, timeout=10)
        try:
            revision = client.put("/conformance/compaction-marker", str(time.time())).header.revision
            client.compact(revision, physical=True)
        finally:
            client.close()

    def stop(self) -> None:
        try:
            if self.apiserver is not None:
                self.apiserver.stop()
        finally:
            self.apiserver = None
            if self.etcd is not None:
                self.etcd.stop()
                self.etcd = None
