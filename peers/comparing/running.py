"""One mode on a fresh fleet: the topology, its workloads, the mode's wiring, the changes, the figures.

Every member is its own network and region with one zone; every service runs in
every member with ``pods`` ready pods. The changes are planned in pairs (to
zero ready in the source cluster, then back), each pair on the next service and
the next (source, viewer) pair of clusters, and run one at a time: each is timed
on its own xDS stream and bounded. Usage and watches are read when the mode has
converged and again after the changes.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from federation.kube.client import MERGE_PATCH, POD
from peers.binaries import find_binaries
from peers.comparing import measuring, multiprimary
from peers.comparing.federating import HubChild
from peers.errors import PeerError
from peers.fleet import MemberSpec, RealFleet, in_parallel
from peers.istiod import Istiod
from peers.member import MemberCluster
from peers.workload import endpoint_slice_object, pod_status
from peers.xds import Locality, Proxy, XdsProbe

MODES = ("hub", "multi-primary")
NAMESPACE = "bench"
PORT = 8080


@dataclass(frozen=True)
class Scale:
    clusters: int = 5
    services: int = 100
    pods: int = 2
    changes: int = 40  # availability changes (half to zero, half back)
    change_timeout: float = 30.0
    settle_timeout: float = 300.0  # for the mode to converge, and for each change's state before
    hub_args: tuple[str, ...] = ()
    # istiod's default (true) folds not-ready remote endpoints into the gateway's weight, so a
    # multi-primary sidecar never sees a remote cluster reach zero ready: both modes turn it off.
    istiod_env: tuple[tuple[str, str], ...] = (("PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS", "false"),)

    def validate(self) -> None:
        if not 2 <= self.clusters <= 50:
            raise PeerError(f"--clusters {self.clusters}: 2 to 50")
        if not 1 <= self.services <= 2000 or not 1 <= self.pods <= 50:
            raise PeerError("--services 1..2000 and --pods 1..50")
        if self.changes < 2 or self.changes % 2:
            raise PeerError(f"--changes {self.changes}: an even number, at least 2 (to zero and back)")
        if self.change_timeout <= 0 or self.settle_timeout <= 0:
            raise PeerError("timeouts must be positive")


def cluster_names(count: int) -> list[str]:
    return [f"cluster-{i}" for i in range(1, count + 1)]


def service_names(count: int) -> list[str]:
    return [f"svc-{i:03d}" for i in range(count)]


def topology(count: int) -> list[MemberSpec]:
    return [MemberSpec(name, f"net-{i}", f"region-{i}", (f"region-{i}-a",))
            for i, name in enumerate(cluster_names(count), start=1)]


def plan(scale: Scale) -> list[tuple[str, str, str]]:
    """(service, source, viewer) per pair of changes: services in turn, each pair of clusters
    (source i, viewer i+1) in turn, so every member is a source and a viewer."""
    clusters, services = cluster_names(scale.clusters), service_names(scale.services)
    return [(services[p % len(services)], clusters[p % len(clusters)], clusters[(p + 1) % len(clusters)])
            for p in range(scale.changes // 2)]


def outbound(service: str) -> str:
    return f"outbound|{PORT}||{service}.{NAMESPACE}.svc.cluster.local"


def deploy(fleet: RealFleet, scale: Scale) -> None:
    def one(member: MemberCluster) -> None:
        zone = member.zones[0]
        for service in service_names(scale.services):
            member.deploy(NAMESPACE, service, [("http", PORT)], [(zone, True)] * scale.pods)
    in_parallel(one, fleet.members.values(), "deploying the services")


def start_istiods(fleet: RealFleet, env: dict[str, str]) -> None:
    """An istiod per member with ``env`` (``RealFleet.start_istiods`` takes none), own CA."""
    for name, member in fleet.members.items():
        fleet.istiods[name] = Istiod(member, fleet.workdir / name / "istiod", fleet.trust_domain,
                                     fleet.mesh_id, extra_env=env)
    in_parallel(lambda d: d.start(wait_for_cacerts=False), list(fleet.istiods.values()), "starting istiods")


def set_all_ready(member: MemberCluster, service: str, ready: bool) -> None:
    """Every pod of ``service`` Ready (or not), then one EndpointSlice write, as the kubelet and
    the endpointslice controller would (``MemberCluster.set_ready`` writes a slice per pod)."""
    w = member.workload(NAMESPACE, service)
    for pod in w.pods:
        pod.ready = ready
        member.client.request("PATCH", POD.path(NAMESPACE, pod.name) + "/status",
                              body=pod_status(pod, member.node_ip(pod.zone)), content_type=MERGE_PATCH)
    member.apply(endpoint_slice_object(w))


@dataclass
class Run:
    """One mode's run: what it measured so far (kept when it fails mid-way)."""

    mode: str
    scale: Scale
    setup: dict = field(default_factory=dict)
    flips: list[measuring.Flip] = field(default_factory=list)
    istiods: dict = field(default_factory=dict)
    hub: dict = field(default_factory=dict)
    watches: dict = field(default_factory=dict)
    load_average: dict = field(default_factory=dict)
    error: str = ""

    def result(self) -> dict:
        to_zero = [f.seconds for f in self.flips if f.ok and not f.ready]
        back = [f.seconds for f in self.flips if f.ok and f.ready]
        return {
            "mode": self.mode, "setup": self.setup,
            "latency_ms": {"all": measuring.latency_ms(to_zero + back), "to_zero": measuring.latency_ms(to_zero),
                           "back": measuring.latency_ms(back)},
            "changes": len(self.flips), "missed": sum(1 for f in self.flips if not f.ok),
            "istiods": self.istiods, "istiod_summary": _istiod_summary(self.istiods),
            "hub": self.hub, "watches": self.watches, "watch_summary": _watch_summary(self.watches),
            "load_average": self.load_average, "flips": [asdict(f) for f in self.flips],
            **({"error": self.error} if self.error else {}),
        }


def run_mode(mode: str, scale: Scale, workdir: Path, say: Callable[[str], None] = lambda _: None) -> dict:
    """One mode on its own fleet (and etcd), everything stopped at the end whatever happens."""
    if mode not in MODES:
        raise PeerError(f"mode {mode!r}: one of {MODES}")
    scale.validate()
    run = Run(mode, scale, load_average={"before": _load()})
    fleet = RealFleet(workdir / mode.replace("-", ""), topology(scale.clusters))
    hub: HubChild | None = None
    probes: dict[str, XdsProbe] = {}
    try:
        started = time.monotonic()
        fleet.start()
        run.setup["fleet_seconds"] = _since(started)
        say(f"{mode}: fleet of {scale.clusters} up in {run.setup['fleet_seconds']} s; deploying "
            f"{scale.services} services × {scale.pods} pods in each")
        started = time.monotonic()
        deploy(fleet, scale)
        run.setup["deploy_seconds"] = _since(started)
        baseline = {n: measuring.watches(s) for n, s in fleet.apiservers.items()}
        run.watches = {n: {"baseline": w} for n, w in baseline.items()}
        if mode == "hub":
            hub = _start_hub_mode(fleet, scale, workdir, run, baseline, say)
        else:
            _start_multiprimary(fleet, scale, run, say)
        probes = {name: XdsProbe(fleet.istiods[name].xds_address, sidecar(fleet.members[name]), timeout=30.0)
                  for name in fleet.members}
        started = run.setup.pop("_converging_from")
        _converge(fleet, probes, scale)
        run.setup["converged_seconds"] = _since(started)
        say(f"{mode}: converged {run.setup['converged_seconds']} s after the mode started; "
            f"{scale.changes} changes")
        _snapshot(fleet, hub, run, baseline, "ready")
        for service, source, viewer in plan(scale):
            _flip_pair(fleet, probes[viewer], service, source, viewer, scale, run)
        _snapshot(fleet, hub, run, baseline, "after")
        for name, per in run.istiods.items():
            per["cpu_seconds_changes"] = round(per["after"]["cpu_seconds"] - per["ready"]["cpu_seconds"], 2)
        if hub is not None:
            run.hub["cpu_seconds_changes"] = round(run.hub["after"]["cpu_seconds"] - run.hub["ready"]["cpu_seconds"], 2)
    except (PeerError, OSError) as exc:
        run.error = f"{type(exc).__name__}: {exc}"
        say(f"{mode}: failed: {run.error[:400]}")
    finally:
        for probe in probes.values():
            probe.close()
        if hub is not None:
            hub.stop()
        fleet.stop()
        run.load_average["after"] = _load()
    return run.result()


def sidecar(member: MemberCluster) -> Proxy:
    return Proxy(kind="sidecar", namespace=NAMESPACE, cluster_id=member.name, network=member.network,
                 locality=Locality(member.region, member.zones[0]), ip=f"10.250.{member.number}.1",
                 labels={"app": "probe"}, name=f"probe-{member.name}")


def _start_hub_mode(fleet: RealFleet, scale: Scale, workdir: Path, run: Run, baseline: dict,
                    say: Callable[[str], None]) -> HubChild:
    started = time.monotonic()
    start_istiods(fleet, dict(scale.istiod_env))
    run.setup["istiods_seconds"] = _since(started)
    for name, server in fleet.apiservers.items():  # each istiod alone, before the hub
        run.watches[name]["istiod_only"] = measuring.difference(measuring.watches(server), baseline[name])
    hub = HubChild(workdir / "hub", scale.hub_args)
    run.setup["_converging_from"] = time.monotonic()
    hub.start()
    say(f"hub: hub pid {hub.pid} at {hub.address}; registering {scale.clusters} members")
    hub.register(fleet)
    run.setup["hub_synced_seconds"] = round(hub.wait_synced(scale.clusters, scale.settle_timeout), 2)
    run.hub["pid"] = hub.pid
    return hub


def _start_multiprimary(fleet: RealFleet, scale: Scale, run: Run, say: Callable[[str], None]) -> None:
    started = time.monotonic()
    secrets = multiprimary.connect(fleet, find_binaries().istioctl)
    run.setup["remote_secrets_seconds"] = _since(started)
    run.setup["remote_secrets"] = scale.clusters * (scale.clusters - 1)
    say(f"multi-primary: {run.setup['remote_secrets']} remote secrets applied ({len(secrets)} readers); "
        "starting istiods")
    run.setup["_converging_from"] = started = time.monotonic()
    start_istiods(fleet, dict(scale.istiod_env))
    run.setup["istiods_seconds"] = _since(started)
    run.setup["istiods_synced_seconds"] = round(multiprimary.wait_synced(fleet.istiods, scale.settle_timeout), 2)


def _sources(member: MemberCluster, service: str) -> set[str]:
    """Where ``service``'s endpoints in ``member`` appear to other clusters: its gateway, or
    its pod IPs (were they reached directly)."""
    return {member.gateway_address, *(p.ip for p in member.workload(NAMESPACE, service).pods)}


def _converge(fleet: RealFleet, probes: dict[str, XdsProbe], scale: Scale) -> None:
    """Every viewer's sidecar sees every other member for the last service (the changes then
    wait, each for its own service, for the state before them)."""
    service = service_names(scale.services)[-1]
    deadline = time.monotonic() + scale.settle_timeout
    for name, probe in probes.items():
        remotes = {other.gateway_address for other in fleet.members.values() if other.name != name}
        outcome = probe.follow_endpoints(outbound(service), lambda eps: remotes <= {e.address for e in eps},
                                         timeout=max(1.0, deadline - time.monotonic()))
        if not outcome.ok:
            raise PeerError(f"{name}'s sidecar does not see every other member for {service}: {outcome}")


def _flip_pair(fleet: RealFleet, probe: XdsProbe, service: str, source: str, viewer: str, scale: Scale,
               run: Run) -> None:
    member = fleet.members[source]
    addresses = _sources(member, service)

    def present(endpoints) -> bool:
        return any(e.address in addresses for e in endpoints)

    def measure(ready: bool) -> measuring.Flip:
        flip = measuring.Flip(service, source, viewer, ready)
        # before the change to zero, the viewer may still be converging for this service
        measuring.follow_flip(probe, outbound(service), flip, present, lambda: set_all_ready(member, service, ready),
                              settle_timeout=scale.change_timeout if ready else scale.settle_timeout,
                              timeout=scale.change_timeout)
        run.flips.append(flip)
        return flip

    down = measure(False)
    if not down.ok:
        set_all_ready(member, service, True)  # back to N ready, unmeasured
        run.flips.append(measuring.Flip(service, source, viewer, True, error="not measured: the change to "
                                        "zero before it was not seen"))
        return
    up = measure(True)
    if up.write_seconds is None:
        set_all_ready(member, service, True)


def _snapshot(fleet: RealFleet, hub: HubChild | None, run: Run, baseline: dict, when: str) -> None:
    for name, istiod in fleet.istiods.items():
        run.istiods.setdefault(name, {})[when] = measuring.usage(istiod.pid)
    for name, server in fleet.apiservers.items():
        run.watches[name][when] = measuring.difference(measuring.watches(server), baseline[name])
    if hub is not None:
        run.hub[when] = measuring.usage(hub.pid)


def _istiod_summary(istiods: dict) -> dict:
    def values(when: str, key: str) -> list[float]:
        return [per[when][key] for per in istiods.values() if when in per]

    def mean(xs: list[float]) -> float | None:
        return round(sum(xs) / len(xs), 2) if xs else None

    changes = [per["cpu_seconds_changes"] for per in istiods.values() if "cpu_seconds_changes" in per]
    return {"rss_mb_mean": mean(values("ready", "rss_mb")), "rss_mb_max": max(values("ready", "rss_mb"), default=None),
            "rss_mb_after_mean": mean(values("after", "rss_mb")),
            "peak_rss_mb_max": max(values("after", "peak_rss_mb"), default=None),
            "cpu_seconds_ready_mean": mean(values("ready", "cpu_seconds")),
            "cpu_seconds_changes_mean": mean(changes)}


def _watch_summary(watches: dict) -> dict:
    def totals(when: str) -> list[int]:
        return [sum(per[when].values()) for per in watches.values() if when in per]

    ready, only = totals("ready"), totals("istiod_only")
    return {"per_apiserver": ready, "total": sum(ready) if ready else None,
            "per_apiserver_mean": round(sum(ready) / len(ready), 1) if ready else None,
            "baseline_per_apiserver": totals("baseline"),
            **({"istiod_only_per_apiserver": only} if only else {})}


def _since(started: float) -> float:
    return round(time.monotonic() - started, 2)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
