"""Two hundred agents, in one process (agent objects driven by a bounded pool), enroll
and heartbeat against one hub, which keeps every one of them alive and refuses none."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from federation.agent.running import Agent
from federation.model.ids import ServiceKey

from .support import group_doc, workload_entries
from tests.support import wait_for

AGENTS = 200
POOL = 8
ROUNDS = 3


def test_two_hundred_agents_enroll_and_stay_alive_without_refusals(make_hub, fleet, tmp_path):
    hub = make_hub(vm_grace=15.0)
    sim = fleet.clusters[0]
    hub.client.register_cluster(sim.name, fleet.kubeconfig_path(sim.name).read_text())
    hub.apply(group_doc())
    token = hub.token(uses=AGENTS)
    agents = [Agent(str(tmp_path / f"vm-{i}"), ca_pem=hub.ca_pem, timeout=30, max_backoff=1)
              for i in range(AGENTS)]
    try:
        with ThreadPoolExecutor(POOL, thread_name_prefix="scale-agent") as pool:
            states = list(pool.map(
                lambda i: agents[i].join(hub.enroll_address, token, f"10.30.{i // 250}.{i % 250 + 1}",
                                         f"vm-{i}"), range(AGENTS)))
            for _ in range(ROUNDS):
                answers = list(pool.map(lambda agent: agent.heartbeat_once(), agents))
                assert len(answers) == AGENTS
        names = {s.vm_name for s in states}
        assert len(names) == AGENTS
        assert set(hub.onboarding.tracker.live_names()) == names
        vms = hub.client.list_vms()
        assert len(vms) == AGENTS and all(vm.alive and vm.healthy for vm in vms)
        assert hub.refusals() == {}, "the hub refused nothing"
        key = ServiceKey("default", "ratings")
        wait_for(lambda: len(hub.service.hub.snapshot.vms.get(key, {})) == AGENTS,
                   what="every VM in the snapshot")
        entries = wait_for(lambda: len(e := vm_entries(fleet, sim.name)) == AGENTS and e,
                             timeout=30, what="every VM's WorkloadEntry")
        assert {e["spec"]["address"] for e in entries} == {
            f"10.30.{i // 250}.{i % 250 + 1}" for i in range(AGENTS)}
    finally:
        for agent in agents:
            agent.close()


def vm_entries(fleet, cluster: str) -> list[dict]:
    return [e for e in workload_entries(fleet.kubeconfig_path(cluster))
            if "federation.mesh/vm" in e["metadata"]["labels"]]
