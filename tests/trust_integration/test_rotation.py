"""Root rotation end to end through the Trust API: Istio's three steps reach every
cluster, each gated on every cluster (read back from the cluster) and every VM
agent confirming the previous; a hub restarted mid-rotation finishes it."""

from __future__ import annotations

import time
import uuid

from federation.trust import certificates as certs
from tests.trust.helpers import leaf_under

from .support import roots_in
from tests.support import wait_for

CLUSTERS = ("cluster-1", "cluster-2", "cluster-3")
GATE = "vm-gate"  # a VM agent the test confirms by hand, to hold each step still


def _status_when(hub, predicate, what):
    def check():
        status = hub.client.trust_status()
        return status if predicate(status) else None
    return wait_for(check, what=what)


def _clusters_confirmed(step):
    def predicate(status):
        rot = status["rotation"]
        return (rot["step"] == step and not rot["pending_clusters"]
                and all(i["confirmed_step"] == step for i in status["intermediates"]))
    return predicate


def _leaves(views, now):
    """A workload certificate per cluster, signed with that cluster's cacerts key as istiod
    would, with the intermediate it chains through."""
    return {name: (leaf_under(v.files["ca-cert.pem"], v.files["ca-key.pem"], now), v.files["ca-cert.pem"])
            for name, v in views.items()}


def test_rotation_through_the_api_keeps_old_and_new_chains_valid_until_finalize(
        hub, readers, openssl):
    keeper, authority = hub.service.trust_keeper, hub.service.trust
    keeper.set_agent_source(lambda: {GATE})
    old_root = hub.client.init_root()
    now = time.time()
    step0 = readers.wait_cacerts(CLUSTERS, step=0)
    old_leaves = _leaves(step0, now)

    rotation = hub.client.start_rotation()
    assert rotation["step"] == 1 and rotation["current_root"] == old_root["id"]
    new_root_id = rotation["new_root"]

    # Step 1: both roots bundled, intermediates still from the old root.
    step1 = readers.wait_cacerts(CLUSTERS, step=1, root_count=2)
    status = _status_when(hub, _clusters_confirmed(1), "every cluster confirming step 1")
    assert status["rotation"]["pending_agents"] == [GATE], "the step waits for the VM agent"
    assert {r["id"]: r["role"] for r in status["roots"]} == {old_root["id"]: "old", new_root_id: "new"}
    for name, view in step1.items():
        assert view.files["ca-cert.pem"] == step0[name].files["ca-cert.pem"]
    seen = keeper.passes
    wait_for(lambda: keeper.passes >= seen + 3, what="three more keeper passes")
    assert hub.client.trust_status()["rotation"]["step"] == 1  # still held by the agent

    authority.confirm_agent(GATE, 1)
    keeper.wake()

    # Step 2: intermediates re-issued from the new root, both roots still bundled.
    step2 = readers.wait_cacerts(CLUSTERS, step=2, root_count=2)
    status = _status_when(hub, _clusters_confirmed(2), "every cluster confirming step 2")
    assert status["rotation"]["pending_agents"] == [GATE]
    assert {i["issuer_root"] for i in status["intermediates"]} == {new_root_id}
    new_leaves = _leaves(step2, now)
    for name, view in step2.items():
        assert view.files["ca-cert.pem"] != step0[name].files["ca-cert.pem"]
        new_root_pem = view.files["cert-chain.pem"][len(view.files["ca-cert.pem"]):]
        assert certs.certificate_id(certs.load_certificate(new_root_pem)) == new_root_id

    # While both roots are bundled, old and new workloads are trusted everywhere.
    for views in (step1, step2):
        for name, view in views.items():
            bundle = view.files["root-cert.pem"]
            for leaf, intermediate in [*old_leaves.values(), *new_leaves.values()]:
                assert openssl.verifies(bundle, leaf, untrusted=intermediate, at=now), name

    authority.confirm_agent(GATE, 2)
    keeper.wake()

    # Step 3: the old root is dropped; only the new chain is trusted.
    step3 = readers.wait_cacerts(CLUSTERS, step=3, root_count=1)
    status = _status_when(hub, _clusters_confirmed(3), "every cluster confirming step 3")
    assert [(r["id"], r["role"]) for r in status["roots"]] == [(new_root_id, "current")]
    assert status["rotation"]["previous_root"] == old_root["id"]
    for name, view in step3.items():
        bundle = view.files["root-cert.pem"]
        assert certs.certificate_id(certs.load_certificate(bundle)) == new_root_id
        for leaf, intermediate in new_leaves.values():
            assert openssl.verifies(bundle, leaf, untrusted=intermediate, at=now), name
        for leaf, intermediate in old_leaves.values():
            assert not openssl.verifies(bundle, leaf, untrusted=intermediate, at=now), name


def test_a_hub_restarted_between_steps_resumes_the_rotation_and_finishes_it(
        hubs, fleet, readers, etcd_server):
    store = dict(store_url=f"etcd://{etcd_server.endpoint}",
                 store_prefix=f"/trust-it-{uuid.uuid4().hex[:8]}/")
    first = hubs(**store)
    first.register(fleet, *CLUSTERS)
    first.service.trust_keeper.set_agent_source(lambda: {GATE})
    first.client.init_root()
    readers.wait_cacerts(CLUSTERS, step=0)
    rotation = first.client.start_rotation()
    step1 = readers.wait_cacerts(CLUSTERS, step=1, root_count=2)
    _status_when(first, _clusters_confirmed(1), "every cluster confirming step 1")
    first.stop()  # between steps: the clusters hold step 1, the agent never confirmed

    second = hubs(**store)  # same store and key-encryption key; nobody waits for the agent now
    status = second.client.trust_status()
    assert status["rotation"]["rotation_id"] == rotation["rotation_id"]
    assert status["rotation"]["step"] in (1, 2, 3)

    step3 = readers.wait_cacerts(CLUSTERS, step=3, root_count=1)
    status = _status_when(second, _clusters_confirmed(3), "the resumed rotation to finish")
    assert status["rotation"]["rotation_id"] == rotation["rotation_id"]
    assert [r["id"] for r in status["roots"]] == [rotation["new_root"]]
    assert {i["issuer_root"] for i in status["intermediates"]} == {rotation["new_root"]}
    for name, view in step3.items():
        assert roots_in(view.files["root-cert.pem"]) == 1
        assert view.files["ca-cert.pem"] != step1[name].files["ca-cert.pem"]
        bundle_id = certs.certificate_id(certs.load_certificate(view.files["root-cert.pem"]))
        assert bundle_id == rotation["new_root"]
