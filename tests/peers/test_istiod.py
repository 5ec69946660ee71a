"""A real istiod on a real API server: CA plugged in from ``istio-system/cacerts``, the
deployed service in its registry, root rotation reaching it, and nothing left after stop."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import time

import pytest
from cryptography import x509

from federation.kube.client import CONFIG_MAP, SECRET, SERVICE
from federation.trust.cacerts import build_cacerts
from federation.trust.certificates import create_root, issue_intermediate
from peers.fleet import MemberSpec
from peers.processes import process_exists
from tests.support import wait_for

pytestmark = pytest.mark.peers

TOPOLOGY = [("cluster-1", "net-east", "us-east", ["us-east-1a", "us-east-1b"])]


def cacerts_for(cluster: str, signing_root, bundle):
    intermediate = issue_intermediate(signing_root, common_name=f"{cluster} intermediate", now=time.time())
    return intermediate, build_cacerts(intermediate_cert_pem=intermediate.cert_pem,
                                       intermediate_key_pem=intermediate.key_pem(),
                                       issuer_root_pem=signing_root.cert_pem,
                                       bundle_pems=[r.cert_pem for r in bundle])


def serving_issuer(address: str) -> x509.Name:
    """The issuer of the certificate istiod serves on its secure (15012) port."""
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname="istiod.istio-system.svc") as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).issuer


def published_roots(member, namespace: str) -> str:
    cm = member.client.get(CONFIG_MAP, namespace, "istio-ca-root-cert")
    return (cm or {}).get("data", {}).get("root-cert.pem", "")


def test_istiod_plugs_in_cacerts_lists_services_and_takes_a_root_rotation(real_fleet_factory):
    fleet = real_fleet_factory(TOPOLOGY)
    member = fleet.members["cluster-1"]
    root = create_root()
    intermediate, cacerts = cacerts_for("cluster-1", root, [root])
    member.apply(cacerts.secret())
    member.deploy("bookinfo", "reviews", ports=[("http", 9080)],
                  pods=[("us-east-1a", True), ("us-east-1b", True)])

    istiod = fleet.start_istiods(wait_for_cacerts=True)["cluster-1"]
    print(f"istiod start: {istiod.started_in:.1f}s, RSS {istiod.rss() / 2**20:.0f} MiB; "
          f"kube-apiserver start {member.apiserver.started_in:.1f}s, RSS {member.apiserver.rss() / 2**20:.0f} MiB")
    assert istiod.plugged_in
    for key, value in cacerts.data().items():
        assert (istiod.ca_dir / key).read_bytes() == base64.b64decode(value)
    assert istiod.xds_address.startswith("127.0.0.1:") and istiod.secure_address.startswith("127.0.0.1:")

    def registry_hosts():
        return {s.get("hostname") for s in istiod.debug_json("/debug/registryz")}
    hosts = wait_for(lambda: "reviews.bookinfo.svc.cluster.local" in registry_hosts() and registry_hosts(),
                     30, "reviews in istiod's registry")
    assert "istio-eastwestgateway.istio-system.svc.cluster.local" in hosts
    # The network comes from istio-system's label; its gateway from the east-west Service's ingress.
    gateways = wait_for(lambda: istiod.debug_json("/debug/networkz"), 30, "a network gateway in /debug/networkz")
    assert {(g.get("Network"), g.get("Addr"), g.get("Port")) for g in gateways} >= {
        ("net-east", member.gateway_address, 15443)}

    assert serving_issuer(istiod.secure_address) == intermediate.cert.subject
    wait_for(lambda: root.cert_pem.strip() in published_roots(member, "bookinfo"), 30,
             "the plugged-in root published in bookinfo/istio-ca-root-cert")

    # Rotation step 1: the combined bundle reaches istiod through the projected files alone.
    new_root = create_root()
    _, combined = cacerts_for("cluster-1", root, [root, new_root])
    member.apply(combined.secret())
    wait_for(lambda: new_root.cert_pem.strip() in published_roots(member, "bookinfo"), 60,
             "the combined root bundle published by istiod")
    assert root.cert_pem.strip() in published_roots(member, "bookinfo")

    pids = [istiod.pid, member.apiserver.pid]
    fleet.stop()
    assert not any(process_exists(pid) for pid in pids)


def test_istiod_without_cacerts_uses_its_self_signed_ca(real_fleet_factory):
    hostname = "eastwest.cluster-2.example.com"
    fleet = real_fleet_factory([MemberSpec("cluster-2", "net-west", "eu-west", ("eu-west-1a",),
                                           gateway_hostname=hostname)])
    member = fleet.members["cluster-2"]
    gateway = member.client.get(SERVICE, "istio-system", "istio-eastwestgateway")
    assert gateway["status"]["loadBalancer"]["ingress"] == [{"hostname": hostname}]
    istiod = fleet.start_istiods(wait_for_cacerts=False)["cluster-2"]
    assert not istiod.plugged_in
    secret = wait_for(lambda: member.client.get(SECRET, "istio-system", "istio-ca-secret"), 30,
                      "istiod's self-signed istio-ca-secret")
    self_signed = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca-cert.pem"]))
    assert serving_issuer(istiod.secure_address) == self_signed.subject
    before = istiod.pid
    istiod.restart()
    assert istiod.pid != before and not process_exists(before)
    assert json.loads(istiod.debug("/debug/registryz")) is not None
