"""Gateway-aware failover on the simulator: the hub's prober connects to a real
loopback listener standing in for each member's east-west gateway (the
gateway Service publishes its address and port). Closing one withdraws that
cluster's entries from the other clusters within the bound (and not before),
reopening restores them; closing most of them withdraws nothing."""

from __future__ import annotations

import socket
import time

import pytest

from federation.model.gateway_health import HOLDING
from federation.model.ids import SERVICE_NAME_LABEL, SOURCE_CLUSTER_LABEL
from kubesim.workloads import eastwest_gateway_service
from tests.pipeline.conftest import NS, TOPOLOGY, WE, env  # noqa: F401  (fixtures)
from tests.support import wait_for
from tests.telemetry.test_metrics import sample

INTERVAL = 0.25
WITHDRAW_AFTER = 2.0


class Gateway:
    """A TCP listener at a fixed loopback address and port, closed and reopened."""

    def __init__(self, address: str):
        self.address = address
        self._server = socket.create_server((address, 0))
        self.port = self._server.getsockname()[1]

    def close(self) -> None:
        self._server.close()
        self._server = None

    def open(self) -> None:
        self._server = socket.create_server((self.address, self.port))  # SO_REUSEADDR: same port

    def stop(self) -> None:
        if self._server is not None:
            self.close()


def publish(sim, network: str, gateway: Gateway) -> None:
    service = eastwest_gateway_service(network, gateway.address)
    for port in service["spec"]["ports"]:
        if port["name"] == "tls":  # the cross-network port, at the listener's port
            port.update(port=gateway.port, targetPort=15443)
    sim.apply(service)


@pytest.fixture
def probed(env):  # noqa: F811
    gateways = {name: Gateway(f"127.0.9.{i + 1}") for i, name in enumerate(TOPOLOGY)}
    try:
        for name, gateway in gateways.items():
            publish(env.sim(name), TOPOLOGY[name][0], gateway)
        env.start_hub(gateway_probe_interval=INTERVAL, gateway_withdraw_after=WITHDRAW_AFTER,
                      metrics_listen="127.0.0.1:0")
        env.register_all()
        wait_for(env.synced, what="every cluster synced")
        wait_for(lambda: gateway_states(env) == {n: "reachable" for n in TOPOLOGY},
                 what="every gateway reached")
        yield env, gateways
    finally:
        for gateway in gateways.values():
            gateway.stop()


def gateway_states(env) -> dict[str, str]:  # noqa: F811
    return {c.name: c.gateway for c in env.service.control.status().clusters}


def sources(env, cluster: str, service: str = "both") -> list[str]:  # noqa: F811
    return sorted(o["metadata"]["labels"][SOURCE_CLUSTER_LABEL] for o in env.owned(cluster, WE)
                  if o["metadata"]["labels"].get(SERVICE_NAME_LABEL) == service)


def versions(env, cluster: str) -> dict[str, str]:  # noqa: F811
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in env.owned(cluster, WE)}


def test_a_silent_gateway_is_withdrawn_within_the_bound_and_restored(probed):
    env, gateways = probed
    assert sources(env, "cluster-1") == ["cluster-2"] and sources(env, "cluster-3") == ["cluster-1", "cluster-2"]
    own = versions(env, "cluster-2")
    solo = {n: v for n, v in versions(env, "cluster-3").items() if "solo" in n}
    assert solo, versions(env, "cluster-3")

    gateways["cluster-2"].close()
    closed = time.monotonic()
    wait_for(lambda: gateway_states(env)["cluster-2"] == "unreachable", what="cluster-2's gateway unreachable")
    if time.monotonic() - closed < WITHDRAW_AFTER:  # not before the bound
        assert sources(env, "cluster-3") == ["cluster-1", "cluster-2"]
    wait_for(lambda: sources(env, "cluster-3") == ["cluster-1"] and sources(env, "cluster-1") == [],
             timeout=WITHDRAW_AFTER + 10, what="cluster-2's entries withdrawn from cluster-1 and cluster-3")
    took = time.monotonic() - closed
    assert WITHDRAW_AFTER - INTERVAL <= took <= WITHDRAW_AFTER + 4 * INTERVAL + 2.0, took

    status = {c.name: c for c in env.service.control.status().clusters}
    assert status["cluster-2"].gateway == "withdrawn" and status["cluster-2"].gateway_since <= time.time()
    assert status["cluster-1"].gateway == status["cluster-3"].gateway == "reachable"
    scrape = env.service.telemetry.scrape()
    assert sample(scrape, "federation_cluster_withdrawn", cluster="cluster-2") == 1.0
    assert sample(scrape, "federation_cluster_withdrawn", cluster="cluster-1") == 0.0
    assert sample(scrape, "federation_gateway_reachable", cluster="cluster-2") == 0.0
    # Its own cluster keeps its config; only the services with endpoints there re-rendered.
    assert versions(env, "cluster-2") == own
    assert {n: v for n, v in versions(env, "cluster-3").items() if "solo" in n} == solo

    gateways["cluster-2"].open()
    opened = time.monotonic()
    wait_for(lambda: sources(env, "cluster-3") == ["cluster-1", "cluster-2"]
             and sources(env, "cluster-1") == ["cluster-2"], what="cluster-2's entries restored")
    assert time.monotonic() - opened <= 2 * INTERVAL + 2.0
    wait_for(lambda: gateway_states(env)["cluster-2"] == "reachable", what="cluster-2 reachable again")
    assert sample(env.service.telemetry.scrape(), "federation_cluster_withdrawn", cluster="cluster-2") == 0.0


def test_most_gateways_silent_withdraws_nothing_and_says_so(probed):
    env, gateways = probed
    before = {name: versions(env, name) for name in TOPOLOGY}
    gateways["cluster-1"].close()
    gateways["cluster-2"].close()
    wait_for(lambda: env.service.control.status().gateway_note == HOLDING, timeout=WITHDRAW_AFTER + 10,
             what="the hub holding: most gateways silent past the bound")
    assert set(gateway_states(env).values()) == {"unreachable", "reachable"}
    # The holding decision came from rounds past the bound: nothing was withdrawn.
    rounds = env.service.gateway_prober.rounds
    with env.service.gateway_prober.round_done:
        env.service.gateway_prober.round_done.wait_for(
            lambda: env.service.gateway_prober.rounds >= rounds + 2, timeout=10)
    assert {name: versions(env, name) for name in TOPOLOGY} == before
    from federation.cli import format_status
    assert f"gateways: {HOLDING}" in format_status(env.service.control.status())
    gateways["cluster-1"].open()
    wait_for(lambda: env.service.control.status().gateway_note == "", what="the hub no longer holding")
    # cluster-2 alone is a minority again: withdrawn now
    wait_for(lambda: sources(env, "cluster-3") == ["cluster-1"], what="cluster-2 withdrawn once a minority")
    gateways["cluster-2"].open()
    wait_for(lambda: sources(env, "cluster-3") == ["cluster-1", "cluster-2"], what="cluster-2 restored")
