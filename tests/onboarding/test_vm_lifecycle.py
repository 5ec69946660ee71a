"""End to end: agents as separate processes (`python -m federation.agent`) against an
in-process hub over real gRPC and TLS, with simulated member clusters read back
through the official kubernetes client."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time

from cryptography import x509

from federation import errors
from federation.agent import credentials
from federation.agent.connection import Session
from federation.agent.credentials import CertificateInfo
from federation.model.ids import ServiceKey
from federation.trust.rotation import Step

from .support import PYTHON, REPO_ROOT, group_doc, vm_entries
from tests.support import wait_for

SPIFFE = "spiffe://cluster.local/ns/default/sa/ratings"
SIDECAR_FILES = {"cluster.env", "mesh.yaml", "root-cert.pem", "hosts", "cert-chain.pem",
                 "key.pem", "hub-ca.pem", "agent-state.json"}


def register(hub, fleet) -> None:
    for sim in fleet:
        hub.client.register_cluster(sim.name, fleet.kubeconfig_path(sim.name).read_text())
    wait_for(lambda: all(c.state == "synced" for c in hub.client.list_clusters())
               and len(hub.client.list_clusters()) == len(fleet.clusters), timeout=15,
               what="the member clusters to sync")


def vm_name(out) -> str:
    state = wait_for(lambda: (out / "agent-state.json").exists() and
                       json.loads((out / "agent-state.json").read_text()), timeout=20,
                       what="the agent to enroll")
    return state["vm_name"]


def in_every_cluster(fleet, name: str, present: bool = True) -> bool:
    return all(bool(vm_entries(fleet.kubeconfig_path(sim.name), name)) == present for sim in fleet)


def openssl_verify(openssl: str, out, roots: str = "root-cert.pem") -> subprocess.CompletedProcess:
    return subprocess.run([openssl, "verify", "-CAfile", str(out / roots), "-untrusted",
                           str(out / "cert-chain.pem"), str(out / "cert-chain.pem")],
                          capture_output=True, text=True, timeout=10)


def test_an_enrolled_vm_reaches_every_cluster_leaves_when_killed_and_returns_on_restart(
        hub, fleet, agents, openssl):
    register(hub, fleet)
    hub.apply(group_doc())
    token = hub.token()
    agent = agents.join(hub, token, "vm-a", "10.20.0.7")
    out = agents.out("vm-a")
    name = vm_name(out)

    # The files Istio's VM sidecar reads, the key private to its owner, no token anywhere.
    assert SIDECAR_FILES <= {p.name for p in out.iterdir()}
    assert stat.S_IMODE((out / "key.pem").stat().st_mode) == 0o600
    for path in out.iterdir():
        assert token.encode() not in path.read_bytes(), f"the token leaked into {path.name}"
    env = (out / "cluster.env").read_text()
    assert "SERVICE_ACCOUNT='ratings'" in env and f"PROV_CERT='{out.resolve()}'" in env
    # istiod through the first cluster's east-west gateway (no cluster is on the VM's network).
    assert (out / "hosts").read_text() == "172.18.1.10 istiod.istio-system.svc\n"
    assert "ISTIO_META_CLUSTER_ID='cluster-1'" in env
    verified = openssl_verify(openssl, out)
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK"), verified.stderr
    leaf = x509.load_pem_x509_certificates((out / "cert-chain.pem").read_bytes())[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [SPIFFE]

    # A WorkloadEntry in every member cluster, with the VM's address and identity.
    wait_for(lambda: in_every_cluster(fleet, name), timeout=15, what="WorkloadEntries")
    for sim in fleet:
        [entry] = vm_entries(fleet.kubeconfig_path(sim.name), name)
        assert entry["spec"]["address"] == "10.20.0.7"
        assert entry["spec"]["serviceAccount"] == "ratings"
        assert entry["spec"]["network"] == "vm-net"
        assert entry["spec"]["locality"] == "us-east/us-east-1a"

    # Killed: the entries go once the grace period (3 s) passes without a heartbeat.
    agent.kill()
    wait_for(lambda: in_every_cluster(fleet, name, present=False), timeout=15,
               what="the dead VM's entries to be removed")

    # Restarted from its files: back without a new token (the one-use token is spent).
    resumed = agents.run("vm-a")
    wait_for(lambda: in_every_cluster(fleet, name), timeout=15,
               what="the VM's entries to return after a restart")
    assert resumed.terminate() == 0, resumed.output()
    assert "agent stopped" in resumed.output()


def federation_cli(hub, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([PYTHON, "-m", "federation.cli", "--log-level", "warning", *args,
                           "--hub", hub.service.api.address, "--ca", str(hub.workdir.ca),
                           "--token-file", str(hub.workdir.token)],
                          capture_output=True, text=True, timeout=30, cwd=REPO_ROOT, env=env)


def test_the_cli_creates_a_token_lists_the_vm_and_revokes_it(hub, agents):
    hub.apply(group_doc())
    created = federation_cli(hub, "vm", "token", "create", "--group", "default/ratings",
                             "--ttl", "10m", "--uses", "1")
    assert created.returncode == 0, created.stderr
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}\n", created.stdout), "only the token is printed"
    token = created.stdout.strip()
    agent = agents.join(hub, token, "vm-b", "10.20.0.8")
    name = vm_name(agents.out("vm-b"))

    listed = federation_cli(hub, "vm", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [vm] = json.loads(listed.stdout)
    assert (vm["name"], vm["group"], vm["alive"], vm["revoked"]) == (name, "default/ratings",
                                                                     True, False)
    assert token not in listed.stdout

    revoked = federation_cli(hub, "vm", "revoke", name)
    assert revoked.returncode == 0 and f"VM {name} revoked" in revoked.stdout
    assert agent.wait(15) == 3, "a revoked VM's agent stops and asks for a new enrollment"
    assert "enroll again with a new token" in agent.output()
    [vm] = json.loads(federation_cli(hub, "vm", "list", "--json").stdout)
    assert vm["revoked"] and not vm["alive"]


def test_the_certificate_is_renewed_before_it_expires_with_a_new_key(make_hub, agents):
    hub = make_hub(vm_cert_ttl=300)  # the shortest lifetime the trust authority issues
    hub.apply(group_doc())
    joined = agents.join(hub, hub.token(), "vm-c", "10.20.0.9", "--no-run")
    assert joined.wait(20) == 0, joined.output()
    out = agents.out("vm-c")
    first = CertificateInfo.from_chain((out / "cert-chain.pem").read_bytes())
    first_key = (out / "key.pem").read_bytes()
    # Renewal due two seconds from now, as a fraction of this certificate's life.
    life = (first.not_after - first.not_before).total_seconds()
    elapsed = time.time() - first.not_before.timestamp()
    fraction = (elapsed + 2) / life
    agents.run("vm-c", "--renew-fraction", f"{fraction:.6f}")
    renewed = wait_for(
        lambda: (c := CertificateInfo.from_chain((out / "cert-chain.pem").read_bytes())).serial
        != first.serial and c, timeout=20, what="a renewed certificate")
    assert time.time() < first.not_after.timestamp(), "renewed before the old one expired"
    assert renewed.spiffe_id == SPIFFE and renewed.not_after > first.not_after
    assert (out / "key.pem").read_bytes() != first_key, "every renewal uses a new key"
    wait_for(lambda: hub.client.list_vms()[0].certificate_serial != first.serial,
               what="the hub to bind the new serial")
    [vm] = hub.client.list_vms()
    assert vm.alive


def test_a_root_rotation_reaches_the_agent(hub, agents, openssl):
    hub.apply(group_doc())
    agent = agents.join(hub, hub.token(), "vm-d", "10.20.0.10")
    out = agents.out("vm-d")
    name = vm_name(out)
    wait_for(lambda: name in hub.onboarding.tracker.live_names(), what="the VM to be live")
    old_bundle = (out / "root-cert.pem").read_bytes()
    key = credentials.new_key()
    from_old_root = hub.service.trust.sign_workload_csr(credentials.build_csr(key), "default",
                                                        "ratings", 3600)
    plan = hub.service.trust.start_rotation()
    hub.service.trust_keeper.wake()

    # Step 1: the bundle of both roots reaches the VM.
    wait_for(lambda: (out / "root-cert.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 2,
               timeout=15, what="the two-root bundle on the VM")
    # Steps 2 and 3 follow once the agent confirmed; at step 2 it renews from the new root.
    final = wait_for(lambda: (p := hub.service.trust.rotation_plan()).step == Step.FINALIZE
                       and p, timeout=20, what="the rotation to finish")
    assert final.current_root == plan.new_root
    wait_for(lambda: (out / "root-cert.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 1
               and (out / "root-cert.pem").read_bytes() != old_bundle, timeout=15,
               what="the new root alone on the VM")
    verified = openssl_verify(openssl, out)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert hub.onboarding.registrar.records()[0].root_id == plan.new_root

    # The session port now trusts the new root alone: an old-root certificate fails the
    # handshake, and the restarted agent's new handshake succeeds.
    session = Session(hub.onboarding.server.session_address, hub.ca_pem,
                      from_old_root.full_chain_pem.encode(), credentials.key_pem(key), timeout=5)
    try:
        wait_for(lambda: _handshake_refused(session), timeout=5, what="old roots to be dropped")
    finally:
        session.close()
    assert agent.terminate() == 0
    since = time.time()
    agents.run("vm-d")
    wait_for(lambda: hub.onboarding.registrar.last_heartbeat.get(name, 0) > since, timeout=15,
               what="heartbeats of the restarted agent under the new root")
    wait_for(lambda: name in hub.service.hub.snapshot.vms.get(ServiceKey("default", "ratings"),
                                                                 {}))


def _handshake_refused(session: Session) -> bool:
    try:
        session.heartbeat("", True)
    except errors.Transient:
        return True
    except errors.FederationError:
        return False
    return False


def test_the_agent_survives_the_hub_going_away(hub, agents):
    hub.apply(group_doc())
    agent = agents.join(hub, hub.token(), "vm-e", "10.20.0.11")
    out = agents.out("vm-e")
    name = vm_name(out)
    wait_for(lambda: hub.onboarding.registrar.last_heartbeat.get(name), what="a heartbeat")
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    hub.onboarding.server.stop(0)
    with agent.log_on_failure():
        wait_for(lambda: "hub unreachable; retrying" in agent.output(), timeout=15,
                   what="the agent to retry")
    assert agent.proc.poll() is None, "the agent keeps running while the hub is away"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == files, "files are kept as they were"
    hub.onboarding.server.start()
    since = time.time()
    with agent.log_on_failure():
        wait_for(lambda: hub.onboarding.registrar.last_heartbeat.get(name, 0) > since,
                   timeout=15, what="heartbeats after the hub came back")
    assert agent.terminate() == 0
