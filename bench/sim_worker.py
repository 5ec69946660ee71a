"""One worker process of the benchmark's simulated fleet.

It serves its share of the clusters (each with the name and loopback address it has
in the whole fleet), seeds them, and answers the benchmark's few questions about
them over a pipe: one request at a time, each answered ``("ok", value)`` or
``("error", text)``. Every WorkloadEntry commit of its stores goes to the benchmark
over a second pipe as an ``Arrival``, while the benchmark watches.
"""

from __future__ import annotations

import functools
import logging
import queue
import resource
import threading
from multiprocessing.connection import Connection
from pathlib import Path

from bench import floor
from bench.measuring import HubCounts, arrival, store_marks, writes_since
from bench.settings import BenchConfig
from bench.topology import WE, Topology
from federation.collecting import settle_long_lived_heap
from kubesim.fleet import SimFleet

log = logging.getLogger(__name__)

# What the benchmark may ask: a method of ``Worker`` each.
REQUESTS = frozenset({"counts", "marks", "writes_since", "watch", "unwatch", "set_endpoints", "floor_target",
                      "cpu_seconds"})


class Worker:
    def __init__(self, config: BenchConfig, numbers: list[int], workdir: Path, schemas: str, history: int,
                 arrivals: Connection):
        self._config = config
        self._topology = Topology(config)
        self.fleet = SimFleet(config.clusters, workdir, schemas_dir=schemas or None, numbers=numbers,
                              history=history)
        self._arrivals = arrivals
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._observers: list = []  # (store, WorkloadEntry type, observer) once started
        self._counts: dict[str, HubCounts] = {}
        self._sender = threading.Thread(target=self._send, name="arrivals", daemon=True)

    def start(self) -> dict[str, str]:
        """Serve and seed every cluster; each one's kubeconfig path by name."""
        self.fleet.start(before_ready=lambda f: self._topology.seed(f, self._config.endpoints))
        # The stores hold this share of the fleet: a full collection here stalls each of its
        # clusters at once, which kube-apiserver never does. Collected as the hub is.
        settle_long_lived_heap()
        self._observers = [(sim.store, sim.store.rtype(*WE), functools.partial(self._committed, sim.name))
                           for sim in self.fleet]
        self._counts = {sim.name: HubCounts(sim) for sim in self.fleet}  # before the hub writes
        self._sender.start()
        return {sim.name: str(self.fleet.kubeconfig_path(sim.name)) for sim in self.fleet}

    def stop(self) -> None:
        self.unwatch()
        self._queue.put(None)
        self.fleet.stop()

    # --- requests ----------------------------------------------------------------------
    def counts(self) -> dict[str, dict[str, int]]:
        return {name: counted.counts() for name, counted in self._counts.items()}

    def marks(self, clear: bool = True) -> dict[str, int]:
        return store_marks(self.fleet, clear)

    def writes_since(self, marks: dict[str, int]) -> dict:
        return writes_since(self.fleet, marks)

    def watch(self) -> None:
        for store, rtype, observer in self._observers:
            store.observe(rtype, observer)

    def unwatch(self) -> None:
        for store, rtype, observer in self._observers:
            store.unobserve(rtype, observer)

    def set_endpoints(self, cluster: str, service: str, not_ready: int) -> None:
        endpoints = self._topology.endpoints(cluster, self._config.endpoints, not_ready)
        self._topology.set_endpoints(self.fleet[cluster], service, endpoints)

    def floor_target(self, cluster: str, sample: int) -> floor.Target:
        return floor.target(self.fleet[cluster], sample)

    @staticmethod
    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    # --- arrivals ------------------------------------------------------------------------
    def _committed(self, cluster: str, event) -> None:
        # Called under the store's lock: timed now, sent by the sender thread.
        self._queue.put(arrival(cluster, event))

    def _send(self) -> None:
        """Hands arrivals over in batches: whatever queued while the last batch went."""
        while True:
            batch = [self._queue.get()]
            try:
                while True:
                    batch.append(self._queue.get_nowait())
            except queue.Empty:
                pass
            done = batch[-1] is None
            batch = [a for a in batch if a is not None]
            try:
                if batch:
                    self._arrivals.send(batch)
                if done:
                    self._arrivals.close()
                    return
            except OSError:  # the benchmark is gone
                return


def main(requests: Connection, arrivals: Connection, config: BenchConfig, numbers: list[int], workdir: str,
         schemas: str, history: int) -> None:
    """A worker's life: start (answering the kubeconfig paths), then answer until told to stop."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    worker = Worker(config, numbers, Path(workdir), schemas, history, arrivals)
    try:
        try:
            requests.send(("ok", worker.start()))
        except Exception as exc:  # noqa: BLE001 - reported to the benchmark, which ends the run
            requests.send(("error", f"starting clusters {numbers}: {exc}"))
            return
        while True:
            try:
                name, args = requests.recv()
            except EOFError:
                return
            if name == "stop":
                return
            if name not in REQUESTS:
                requests.send(("error", f"unknown request {name!r}"))
                continue
            try:
                requests.send(("ok", getattr(worker, name)(*args)))
            except Exception as exc:  # noqa: BLE001 - the benchmark names it and ends the run
                requests.send(("error", f"{name}: {type(exc).__name__}: {exc}"))
    finally:
        worker.stop()
