"""The shared root reaches every member cluster as ``istio-system/cacerts``: a hub with
simulated clusters over HTTPS, the Trust API over TLS, Secrets read back with the
official kubernetes client and checked with openssl."""

from __future__ import annotations

import time

from federation.model.ids import MANAGED_BY, MANAGED_BY_LABEL
from federation.trust import certificates as certs
from tests.trust.helpers import leaf_under

from .support import FILES, basic_constraints, put_user_secret, public_key_bytes, roots_in
from tests.support import wait_for

FIRST = ("cluster-1", "cluster-2", "cluster-3")


def test_init_gives_every_cluster_a_verified_pathlen0_intermediate_under_one_root(
        hub, readers, openssl):
    root = hub.client.init_root()
    views = readers.wait_cacerts(FIRST, step=0)

    bundles = {v.files["root-cert.pem"] for v in views.values()}
    assert len(bundles) == 1, "every cluster trusts the same bundle"
    (bundle,) = bundles
    assert roots_in(bundle) == 1
    assert certs.fingerprint(certs.load_certificate(bundle)) == root["fingerprint"]
    now = time.time()
    for name, view in views.items():
        f = view.files
        assert view.labels[MANAGED_BY_LABEL] == MANAGED_BY
        result = openssl.verify(f["root-cert.pem"], f["ca-cert.pem"], at=now)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f["cert-chain.pem"] == f["ca-cert.pem"] + f["root-cert.pem"]
        cert, key = certs.load_certificate(f["ca-cert.pem"]), certs.load_private_key(f["ca-key.pem"])
        assert certs.key_matches(cert, key), f"{name}: ca-key.pem does not match ca-cert.pem"
        constraints = basic_constraints(f["ca-cert.pem"])
        assert constraints.ca and constraints.path_length == 0
        assert "pathlen:0" in openssl.text(f["ca-cert.pem"])
        assert name in cert.subject.rfc4514_string()
        # istiod signs workloads with this key: its leaves chain to the shared root.
        leaf = leaf_under(f["ca-cert.pem"], f["ca-key.pem"], now)
        assert openssl.verifies(bundle, leaf, untrusted=f["ca-cert.pem"], at=now)
    keys = {public_key_bytes(v.files["ca-cert.pem"]) for v in views.values()}
    assert len(keys) == len(FIRST), "each cluster has its own intermediate key"


def test_a_cluster_registered_later_gets_its_secret_under_the_same_root(
        hub, fleet, readers, openssl):
    hub.client.init_root()
    first = readers.wait_cacerts(FIRST, step=0)
    assert readers["cluster-4"].cacerts() is None

    hub.register(fleet, "cluster-4")
    late = readers.wait_cacerts(["cluster-4"], step=0)["cluster-4"]

    assert late.files["root-cert.pem"] == first["cluster-1"].files["root-cert.pem"]
    assert openssl.verifies(late.files["root-cert.pem"], late.files["ca-cert.pem"], at=time.time())
    assert public_key_bytes(late.files["ca-cert.pem"]) not in {
        public_key_bytes(v.files["ca-cert.pem"]) for v in first.values()}
    intermediates = wait_for(lambda: {i["cluster"] for i in hub.client.trust_status()["intermediates"]}
                             >= {"cluster-4"}, what="cluster-4 in the trust status")
    assert intermediates


def test_a_user_owned_cacerts_secret_is_left_unchanged_and_reported_as_conflict(
        hubs, fleet, readers):
    user = put_user_secret(fleet["cluster-3"])
    hub = hubs()
    hub.register(fleet, *FIRST)
    hub.client.init_root()
    readers.wait_cacerts(["cluster-1", "cluster-2"], step=0)

    def conflict():
        status = {c.name: c for c in hub.client.status().clusters}
        return [c for c in status["cluster-3"].conflicts if "cacerts" in c] if "cluster-3" in status else []
    (message,) = wait_for(conflict, what="the cacerts conflict in cluster-3's status")
    assert "Secret istio-system/cacerts" in message and "not managed" in message

    after = fleet["cluster-3"].get("v1", "Secret", "cacerts", "istio-system")
    assert after["data"] == user["data"]
    assert after["metadata"]["labels"] == {"owner": "ops"}
    assert after["metadata"]["resourceVersion"] == user["metadata"]["resourceVersion"]
    view = readers["cluster-3"].cacerts()
    assert set(view.files) == {"ca-cert.pem"} and view.files["ca-cert.pem"] == "operator's own CA\n"


def test_a_removed_cluster_is_forgotten(hub, readers):
    hub.client.init_root()
    readers.wait_cacerts(FIRST, step=0)
    wait_for(lambda: len(hub.client.trust_status()["intermediates"]) == 3, what="3 intermediates")

    hub.client.remove_cluster("cluster-2")

    remaining = wait_for(
        lambda: (names := [i["cluster"] for i in hub.client.trust_status()["intermediates"]])
        == ["cluster-1", "cluster-3"] and names, what="cluster-2's intermediate forgotten")
    assert remaining == ["cluster-1", "cluster-3"]
    assert hub.service.trust.member_clusters() == ["cluster-1", "cluster-3"]


def test_expiry_gauge_reports_every_ca_certificate(hub, readers):
    root = hub.client.init_root()
    readers.wait_cacerts(FIRST, step=0)

    def scraped():
        text = hub.service.telemetry.scrape()
        lines = [line for line in text.splitlines()
                 if line.startswith("federation_cert_expiry_seconds{")]
        return lines if len(lines) >= 4 else None
    lines = wait_for(scraped, what="expiry gauge samples for the root and 3 intermediates")
    by_name = {}
    for line in lines:
        labels, value = line.rsplit(" ", 1)
        by_name[labels] = float(value)
    root_samples = [v for k, v in by_name.items() if 'kind="root"' in k and root["id"] in k]
    assert len(root_samples) == 1 and root_samples[0] > 3600 * 24 * 3000
    for name in FIRST:
        (left,) = [v for k, v in by_name.items()
                   if 'kind="intermediate"' in k and f'name="{name}"' in k]
        assert 3600 * 24 * 300 < left < 3600 * 24 * 366


def test_secret_files_are_exactly_istios_four(hub, readers):
    hub.client.init_root()
    views = readers.wait_cacerts(FIRST, step=0)
    for view in views.values():
        assert sorted(view.files) == sorted(FILES)
        assert "PRIVATE KEY" in view.files["ca-key.pem"]
