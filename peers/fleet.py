"""A fleet of real member clusters on one etcd: API servers, bootstrapped members, istiods.

``RealFleet(workdir, topology)`` is a context manager. The API servers start
in parallel (one thread each, joined before ``start`` returns); istiods start
only when ``start_istiods`` is called. ``stop`` ends everything it started in
reverse order, each step bounded.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

from peers.apiserver import KubeAPIServer
from peers.errors import PeerError
from peers.etcd import EtcdProcess
from peers.istiod import Istiod
from peers.member import MemberCluster

T = TypeVar("T")


@dataclass(frozen=True)
class MemberSpec:
    name: str
    network: str
    region: str
    zones: tuple[str, ...] = field(default=())
    gateway_hostname: str | None = None  # the east-west gateway's ingress is a hostname (cloud LB)

    @classmethod
    def of(cls, item: "MemberSpec | Sequence") -> "MemberSpec":
        if isinstance(item, MemberSpec):
            return item
        try:
            name, network, region, zones = item
        except (TypeError, ValueError) as exc:
            raise PeerError(f"topology entry {item!r}: expected (name, network, region, zones)") from exc
        return cls(str(name), str(network), str(region), tuple(zones) or (f"{region}-a",))


def in_parallel(fn: Callable[[T], object], items: Iterable[T], what: str) -> None:
    """Run ``fn`` on every item at once (threads joined before returning); the first error is raised."""
    items = list(items)
    if not items:
        return
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="peers-start") as pool:
        futures = [pool.submit(fn, item) for item in items]
        failures = [f.exception() for f in futures if f.exception() is not None]
    if failures:
        raise PeerError(f"{what}: {len(failures)} of {len(items)} failed; first: {failures[0]}") from failures[0]


class RealFleet:
    """One etcd (or ``etcd_url``) and one member per topology entry."""

    def __init__(self, workdir: Path | str, topology: Iterable["MemberSpec | Sequence"], *,
                 etcd_url: str | None = None, trust_domain: str = "cluster.local", mesh_id: str = "mesh1"):
        self.workdir = Path(workdir)
        self.specs = [MemberSpec.of(item) for item in topology]
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise PeerError(f"duplicate cluster names in topology: {names}")
        if not 1 <= len(names) <= 250:
            raise PeerError(f"a fleet has 1 to 250 members, not {len(names)}")
        self.trust_domain, self.mesh_id = trust_domain, mesh_id
        self._etcd_url = etcd_url
        self.etcd: EtcdProcess | None = None
        self.apiservers: dict[str, KubeAPIServer] = {}
        self.members: dict[str, MemberCluster] = {}
        self.istiods: dict[str, Istiod] = {}
        self._lock = threading.Lock()
        self.timings: dict[str, float] = {}

    @property
    def etcd_url(self) -> str:
        if self._etcd_url:
            return self._etcd_url
        if self.etcd is None:
            raise PeerError("the fleet was not started")
        return self.etcd.url

    def __enter__(self) -> "RealFleet":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> None:
        started = time.monotonic()
        if self._etcd_url is None and self.etcd is None:
            self.etcd = EtcdProcess(self.workdir / "etcd")
            self.etcd.start()
        for i, spec in enumerate(self.specs):
            self.apiservers[spec.name] = KubeAPIServer(spec.name, self.workdir / spec.name, self.etcd_url,
                                                       service_cidr=f"172.20.{i}.0/24")
        in_parallel(lambda s: s.start(timeout), self.apiservers.values(), "starting kube-apiservers")
        self.timings["apiservers"] = time.monotonic() - started
        for i, spec in enumerate(self.specs):
            self.members[spec.name] = MemberCluster(self.apiservers[spec.name], spec.name, spec.network,
                                                    spec.region, spec.zones or (f"{spec.region}-a",),
                                                    number=i + 1, gateway_hostname=spec.gateway_hostname)
        in_parallel(lambda m: m.bootstrap(timeout), self.members.values(), "bootstrapping members")
        self.timings["ready"] = time.monotonic() - started

    def start_istiods(self, wait_for_cacerts: bool = True, names: Iterable[str] | None = None,
                      timeout: float = 180.0) -> dict[str, Istiod]:
        """Start an istiod per member (or per ``names``) in parallel; returns them by cluster name."""
        chosen = list(names) if names is not None else list(self.members)
        unknown = [n for n in chosen if n not in self.members]
        if unknown:
            raise PeerError(f"no such members: {unknown} (fleet has {list(self.members)})")
        fresh = []
        with self._lock:
            for name in chosen:
                if name not in self.istiods:
                    self.istiods[name] = Istiod(self.members[name], self.workdir / name / "istiod",
                                                self.trust_domain, self.mesh_id)
                    fresh.append(self.istiods[name])
        started = time.monotonic()
        in_parallel(lambda d: d.start(wait_for_cacerts=wait_for_cacerts, timeout=timeout), fresh,
                    "starting istiods")
        self.timings["istiods"] = time.monotonic() - started
        return {name: self.istiods[name] for name in chosen}

    def stop(self) -> None:
        """Stop istiods, then API servers, then etcd; each stop is bounded, and one failing
        stop does not keep the others from running (the first failure is raised at the end)."""
        failures: list[BaseException] = []

        def step(fn: Callable[[], object]) -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                failures.append(exc)

        istiods, self.istiods = list(self.istiods.values()), {}
        step(lambda: in_parallel(lambda d: d.stop(), reversed(istiods), "stopping istiods"))
        for member in self.members.values():
            step(member.close)
        servers, self.apiservers = list(self.apiservers.values()), {}
        step(lambda: in_parallel(lambda s: s.stop(), reversed(servers), "stopping kube-apiservers"))
        etcd, self.etcd = self.etcd, None
        if etcd is not None:
            step(etcd.stop)
        if failures:
            raise PeerError(f"stopping the fleet: {failures[0]}") from failures[0]
