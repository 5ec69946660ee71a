"""Endpoint churn at a bounded rate, each change timed until every other cluster shows it.

Two kinds of change: a weight change moves one endpoint of a (service, cluster)
between ready and not ready (10 ↔ 9 ready: the entries' weight changes); an
availability change takes all of its endpoints to not ready or back (its
entries disappear from, or return to, every other cluster). The state of every
pair is kept across phases, so several rates can run against one converged hub.
"""

from __future__ import annotations

import random
import time

from bench.measuring import Change, WeightWatch, WriteCounter, distribution_ms
from bench.settings import BenchConfig
from bench.sim_processes import SimProcesses
from bench.topology import Topology

AVAILABILITY, WEIGHT = "availability", "weight"


class Churn:
    def __init__(self, fleet: SimProcesses, topology: Topology, hub, config: BenchConfig):
        self._fleet, self._topology, self._hub, self._config = fleet, topology, hub, config
        self._pairs = [(svc, cluster) for svc in topology.services for cluster in topology.placement[svc]]
        random.Random(config.seed).shuffle(self._pairs)
        self._not_ready: dict[tuple[str, str], int] = {}  # endpoints made not ready, per pair
        self._latest: dict[tuple[str, str], Change] = {}
        self._next = 0  # index into the pairs, across phases

    def run(self, rate: float, count: int) -> dict:
        """``count`` changes at ``rate`` per second; the phase's measurements."""
        config, hub = self._config, self._hub
        watch = WeightWatch(self._fleet)
        writes = WriteCounter(self._fleet)
        changes: list[Change] = []
        cpu_before = hub.usage()["cpu_seconds"]
        watch.start()
        try:
            writes.mark()
            started = time.monotonic()
            for i in range(count):
                if i % 20 == 0:
                    hub.check_alive()
                    hub.usage()
                time.sleep(max(0.0, started + i / rate - time.monotonic()))
                changes.append(self._change(watch, i))
            issued = time.monotonic() - started
            for change in changes:
                watch.wait(change, change.started + config.change_timeout - time.monotonic())
            writes.settle()
            counted = writes.since_mark()
        finally:
            watch.stop()
        hub_cpu = hub.usage()["cpu_seconds"] - cpu_before
        return _results(changes, counted, issued, rate, hub_cpu)

    def _change(self, watch: WeightWatch, i: int) -> Change:
        config, topology = self._config, self._topology
        pair = self._pairs[self._next % len(self._pairs)]
        self._next += 1
        previous = self._latest.get(pair)
        if previous is not None and previous.done is None:  # the same pair again: one at a time
            watch.wait(previous, previous.started + config.change_timeout - time.monotonic())
        svc, source = pair
        before, every = self._not_ready.get(pair, 0), config.availability_every
        if before == config.endpoints:
            kind, after = AVAILABILITY, 0  # back: every endpoint ready
        elif every and i % every == every - 1:
            kind, after = AVAILABILITY, config.endpoints  # none ready: its entries go
        else:
            kind, after = WEIGHT, 1 - before  # toggles endpoint 0's readiness
        live_before = self._live(svc)
        self._not_ready[pair] = after
        others = {c for c in topology.clusters if c != source}
        expected = topology.writes_for(svc, source, live_before, self._live(svc))
        change = Change(svc, source, config.endpoints - after, time.monotonic(), set(others), expected, kind)
        watch.expect(change)
        self._fleet.set_endpoints(source, svc, after)
        self._latest[pair] = change
        return change

    def _live(self, service: str) -> set[str]:
        """The clusters where ``service`` has ready endpoints."""
        return {c for c in self._topology.placement[service]
                if self._not_ready.get((service, c), 0) < self._config.endpoints}


def _results(changes: list[Change], counted: dict, issued: float, rate: float, hub_cpu: float) -> dict:
    done = [c for c in changes if c.done is not None]
    affected = sum(c.affected for c in changes)
    hub_writes = counted["committed"] - len(changes)  # each change is one EndpointSlice write of ours
    n = max(1, len(changes))
    requests = counted["write_requests"]
    by_kind = {kind: distribution_ms([c.done - c.started for c in done if c.kind == kind])
               for kind in (AVAILABILITY, WEIGHT)}
    return {
        "rate": rate,
        "changes": len(changes),
        "changes_by_kind": {kind: sum(1 for c in changes if c.kind == kind) for kind in (AVAILABILITY, WEIGHT)},
        "issue_seconds": round(issued, 2),
        "achieved_rate": round(len(changes) / issued, 2) if issued > 0 else None,
        "measured": len(done),
        "missed": len(changes) - len(done),
        # until the change is visible in every other cluster
        "propagation_ms": distribution_ms([c.done - c.started for c in done]),
        "availability_ms": by_kind[AVAILABILITY],
        "weight_ms": by_kind[WEIGHT],
        # until it is visible in one cluster, over every (change, cluster)
        "per_cluster_arrival_ms": distribution_ms([t - c.started for c in changes for t in c.arrivals.values()]),
        # when in the phase the slowest were made: a tail that clusters in time has one cause
        "slowest": [{"at_s": round(c.started - changes[0].started, 2), "ms": round((c.done - c.started) * 1000, 1),
                     "kind": c.kind} for c in sorted(done, key=lambda c: c.done - c.started, reverse=True)[:5]],
        "writes": {
            "hub_writes": hub_writes,
            "write_requests": requests,  # our changes are in-process, not requests
            "per_change": round(hub_writes / n, 3),
            "expected_per_change": round(affected / n, 3),
            # one write, and one write request, per object whose rendering changed
            "equal": hub_writes == affected and requests in (None, affected),
            # changes of one service close together may be coalesced (an object that goes
            # and returns is not written): never more writes than changes call for
            "at_most_expected": hub_writes <= affected and requests in (None, hub_writes),
            "by_kind": counted["by_kind"],
        },
        "hub_cpu_seconds": round(hub_cpu, 2),
        "hub_cpu_ms_per_write": round(hub_cpu / hub_writes * 1000, 3) if hub_writes > 0 else None,
    }
