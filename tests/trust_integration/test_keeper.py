"""The trust keeper on an in-process ``Hub`` with a settable clock: renewal at two
thirds of an intermediate's life, and forgetting clusters that left while no hub ran.
Passes are run one at a time (``run_once``) so each step is deterministic."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest

from federation.hub.app import Hub
from federation.hub.control import HubControl
from federation.settings import HubSettings
from federation.store.memory import MemoryStore
from federation.trust import TrustAuthority, certificates as certs
from federation.trust.keeping import TrustKeeper
from tests.trust.helpers import Clock

from tests.support import wait_for

DAY = 86400.0


@pytest.fixture
def rig(fleet):
    """A hub on a memory store with cluster-1 registered, and a keeper whose authority
    runs on a settable clock (starting now)."""
    store, kek = MemoryStore(), secrets.token_bytes(32)
    hub = Hub(HubSettings(initial_sync_timeout=1.0, cluster_timeout=5.0), store, kek)
    clock = Clock(dt.datetime.now(dt.timezone.utc).timestamp())
    authority = TrustAuthority(store, kek, clock=clock)
    keeper = TrustKeeper(hub, authority, sweep_interval=0.0)  # every pass checks renewal
    hub.add_cluster_objects(keeper)
    hub.start()
    try:
        HubControl(hub).add_cluster("cluster-1", fleet.kubeconfig_path("cluster-1").read_text())
        wait_for(lambda: "cluster-1" in hub.members(), what="cluster-1 to become a member")
        yield hub, authority, keeper, clock
    finally:
        hub.stop()
        hub.telemetry.shutdown()
        store.close()


def test_an_intermediate_is_renewed_at_two_thirds_of_its_life(rig, readers, openssl):
    hub, authority, keeper, clock = rig
    authority.init_root()
    keeper.run_once()
    first = readers.wait_cacerts(["cluster-1"], step=0)["cluster-1"]
    issued = certs.load_certificate(first.files["ca-cert.pem"])
    life = (issued.not_valid_after_utc - issued.not_valid_before_utc).total_seconds()

    clock.advance(life * 0.6)  # not yet two thirds
    keeper.run_once()
    (kept,) = keeper.cluster_objects("cluster-1")
    assert kept["data"] == first.raw_data

    clock.advance(life * 0.1)  # past two thirds
    keeper.run_once()
    renewed = wait_for(lambda: (v := readers["cluster-1"].cacerts()).files["ca-cert.pem"]
                       != first.files["ca-cert.pem"] and v, what="the renewed intermediate")
    cert = certs.load_certificate(renewed.files["ca-cert.pem"])
    assert cert.not_valid_before_utc > issued.not_valid_before_utc + dt.timedelta(days=200)
    assert renewed.files["root-cert.pem"] == first.files["root-cert.pem"]
    assert renewed.files["ca-key.pem"] != first.files["ca-key.pem"]
    assert openssl.verifies(renewed.files["root-cert.pem"], renewed.files["ca-cert.pem"],
                            at=clock.now)
    (left,) = [v for v, attrs in keeper.expiry.observe() if attrs["name"] == "cluster-1"]
    assert left > 360 * DAY, "the gauge reports the renewed certificate"


def test_intermediates_of_clusters_removed_while_no_hub_ran_are_forgotten(rig):
    hub, authority, keeper, clock = rig
    authority.init_root()
    authority.ensure_intermediate("departed")  # issued by an earlier hub; no record now
    assert "departed" in authority.member_clusters()

    keeper.run_once()

    assert authority.member_clusters() == ["cluster-1"]
    assert [attrs["name"] for _, attrs in keeper.expiry.observe()
            if attrs["kind"] == "intermediate"] == ["cluster-1"]


def test_a_failing_agent_source_holds_the_rotation(rig, readers):
    hub, authority, keeper, clock = rig
    authority.init_root()
    keeper.run_once()
    readers.wait_cacerts(["cluster-1"], step=0)

    def broken():
        raise RuntimeError("registry unavailable")
    keeper.set_agent_source(broken)
    authority.start_rotation()
    keeper.run_once()  # builds the step-1 Secret; the hub pushes it
    (view,) = readers.wait_cacerts(["cluster-1"], step=1).values()
    wait_for(lambda: readers["cluster-1"].published_roots() == view.files["root-cert.pem"],
             what="istiod's roots published")
    keeper.run_once()  # sees the step in use and confirms; cannot know which agents to wait for

    status = authority.status(clusters=["cluster-1"])
    assert status["rotation"]["pending_clusters"] == []
    assert status["intermediates"][0]["confirmed_step"] == 1
    assert authority.rotation_plan().step == 1, "unknown agents: the step is not left"

    keeper.set_agent_source(lambda: [])
    keeper.run_once()
    assert authority.rotation_plan().step == 2
