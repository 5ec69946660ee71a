"""Onboarding on a real etcd: compare-and-swap tokens, lease-bound liveness, watches."""

from __future__ import annotations

import secrets

import pytest

from federation import errors
from federation.agent.running import Agent
from federation.model.ids import ServiceKey

from .support import group_doc
from tests.support import wait_for


@pytest.fixture
def etcd_hub(make_hub, etcd_server):
    """A hub on the session's etcd (tests/conftest.py), under a prefix of its own."""
    return make_hub(store_url=f"etcd://{etcd_server.endpoint}",
                    store_prefix=f"/onboarding-{secrets.token_hex(4)}/", vm_grace=1.0)


def test_on_etcd_a_vm_enrolls_once_lapses_when_silent_and_returns(etcd_hub, tmp_path):
    hub = etcd_hub
    hub.apply(group_doc())
    token = hub.token()
    agent = Agent(str(tmp_path / "vm"), ca_pem=hub.ca_pem, timeout=10)
    try:
        agent.join(hub.enroll_address, token, "10.50.0.1", "vm")
        name, key = agent.state.vm_name, ServiceKey("default", "ratings")
        wait_for(lambda: name in hub.service.hub.snapshot.vms.get(key, {}), timeout=10,
                   what="the VM in the snapshot")
        before = hub.state("vms/")
        with pytest.raises(errors.AuthError, match="already used"):
            Agent(str(tmp_path / "again"), ca_pem=hub.ca_pem).join(
                hub.enroll_address, token, "10.50.0.2", "again")
        assert hub.state("vms/") == before, "a replayed token changes nothing in etcd"
        # Silent for longer than the grace: etcd expires the lease, the watch withdraws it.
        wait_for(lambda: name not in hub.service.hub.snapshot.vms.get(key, {}), timeout=10,
                   what="the lease to expire")
        agent.heartbeat_once()
        wait_for(lambda: name in hub.service.hub.snapshot.vms.get(key, {}), timeout=10,
                   what="the VM to come back")
    finally:
        agent.close()
