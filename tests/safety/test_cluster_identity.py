"""One cluster is registered once: a registration records the API server's
identity (kube-system UID, server URL, CA), and a second registration of the
same cluster under another name is refused naming the first, storing nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import threading

import pytest

from federation import errors
from federation.catalog import ClusterRecord, dump_cluster_record, load_cluster_record
from federation.serving import prepare_workdir
from federation.store.keys import Keys
from federation.trust.sealing import load_kek
from tests.support import wait_for

from .support import admin_client, kubeconfig_of, store_dump, variant


def kube_system_uid(env, cluster: str) -> str:
    return env.sim(cluster).get("v1", "Namespace", "kube-system")["metadata"]["uid"]


def test_a_registration_records_the_api_servers_identity(hub):
    record = load_cluster_record(hub.store.get(Keys.cluster("cluster-2")).value, hub.service.kek)
    ca = base64.b64decode(kubeconfig_of(hub, "cluster-2")["clusters"][0]["cluster"]["certificate-authority-data"])
    assert record.uid == kube_system_uid(hub, "cluster-2")
    assert record.server == hub.sim("cluster-2").url
    assert record.ca_sha256 == hashlib.sha256(ca.strip()).hexdigest()
    assert hub.store.get(Keys.cluster_id(record.uid)).value == b"cluster-2"


def test_the_same_cluster_under_another_name_is_refused_naming_its_registration(hub):
    base = kubeconfig_of(hub, "cluster-1")
    url = hub.sim("cluster-1").url
    same = {
        "same kubeconfig": variant(base),
        "another server name for it": variant(base, cluster={"server": url.replace("127.0.0.1", "localhost")}),
    }
    before = store_dump(hub)
    client = admin_client(hub)
    try:
        for case, text in same.items():
            with pytest.raises(errors.AlreadyExists) as refused:
                client.register_cluster("cluster-1-again", text)
            assert "already registered as 'cluster-1'" in str(refused.value), case
    finally:
        client.close()
    assert store_dump(hub) == before
    assert sorted(c.name for c in hub.service.control.list_clusters()) == ["cluster-1", "cluster-2", "cluster-3"]


def test_two_registrations_racing_for_one_cluster_let_exactly_one_win(env):
    env.start_hub()
    text = env.fleet.kubeconfig_path("cluster-3").read_text()
    barrier = threading.Barrier(2, timeout=10)
    outcomes: dict[str, object] = {}

    def register(name: str) -> None:
        barrier.wait()
        try:
            env.service.control.add_cluster(name, text)
            outcomes[name] = "registered"
        except errors.FederationError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=register, args=(n,), name=f"register-{n}") for n in ("west", "east")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(map(str, outcomes.values())).count("registered") == 1, outcomes
    [loser] = [v for v in outcomes.values() if v != "registered"]
    assert isinstance(loser, errors.AlreadyExists)
    [winner] = [n for n, v in outcomes.items() if v == "registered"]
    assert f"already registered as {winner!r}" in str(loser)
    assert [kv.key for kv in env.store.range(Keys.CLUSTERS)[0]] == [Keys.cluster(winner)]


def test_old_records_without_identity_load_and_still_block_a_duplicate(env):
    text = env.fleet.kubeconfig_path("cluster-1").read_text()
    old = json.loads(dump_cluster_record(ClusterRecord(
        name="cluster-1", kubeconfig=text, server=env.sim("cluster-1").url, network="net1"), env_kek(env)))
    old.pop("uid"), old.pop("caSha256")  # as stored before identities were kept
    env.store.put(Keys.cluster("cluster-1"), json.dumps(old).encode())
    env.start_hub()
    wait_for(lambda: any(c.name == "cluster-1" and c.synced for c in env.service.control.status().clusters),
             what="the old record loaded and synced")
    before = store_dump(env)
    with pytest.raises(errors.AlreadyExists, match="already registered as 'cluster-1'"):
        env.service.control.add_cluster("cluster-1-again", text)  # server and CA match
    assert store_dump(env) == before
    env.service.control.add_cluster("cluster-2", env.fleet.kubeconfig_path("cluster-2").read_text())


def test_a_stale_identity_claim_is_taken_over(env):
    env.start_hub()
    uid = kube_system_uid(env, "cluster-2")
    env.store.put(Keys.cluster_id(uid), b"long-gone")  # its cluster record was deleted long ago
    env.service.control.add_cluster("cluster-2", env.fleet.kubeconfig_path("cluster-2").read_text())
    assert env.store.get(Keys.cluster_id(uid)).value == b"cluster-2"


def env_kek(env) -> bytes:
    """The key a hub started on ``env`` uses: the workdir's kek file."""
    wd = prepare_workdir(env.workdir / "hub", hosts=["127.0.0.1"])
    return load_kek(wd.kek)
