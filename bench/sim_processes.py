"""The benchmark's simulated fleet, served by several worker processes.

Real member clusters are separate API server processes. One interpreter serving
every simulated cluster is busy most of the time at 20 changes a second, and
changes then queue there rather than in the hub, so the clusters are dealt
round-robin over ``processes`` workers (``bench.sim_worker``). The benchmark asks
them what it measures: the hub's objects, write counts, arrivals, endpoint changes.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Callable

from bench import floor, sim_worker
from bench.measuring import Arrival, merged_writes
from bench.settings import BenchConfig
from federation import errors

START_TIMEOUT = 600.0  # seeding the largest grid's share of clusters
ANSWER_TIMEOUT = 120.0


class _Process:
    def __init__(self, index: int, numbers: list[int], proc, requests, arrivals):
        self.index, self.numbers, self.proc = index, numbers, proc
        self.requests, self.arrivals = requests, arrivals
        self.lock = threading.Lock()
        self.reader: threading.Thread | None = None

    def send(self, name: str, args: tuple) -> None:
        try:
            self.requests.send((name, args))
        except OSError as exc:
            raise self.gone(f"cannot be asked {name}: {exc}") from exc

    def answer(self, name: str, timeout: float):
        try:
            if not self.requests.poll(timeout):
                raise errors.FederationError(f"simulated fleet worker {self.index} did not answer {name} "
                                             f"within {timeout:g} s")
            status, value = self.requests.recv()
        except (EOFError, OSError) as exc:
            raise self.gone(f"ended while asked {name}") from exc
        if status != "ok":
            raise errors.FederationError(f"simulated fleet worker {self.index}: {value}")
        return value

    def gone(self, what: str) -> errors.FederationError:
        self.proc.join(1.0)
        return errors.FederationError(f"simulated fleet worker {self.index} (clusters {self.numbers}) {what}; "
                                      f"exit status {self.proc.exitcode}")


class SimProcesses:
    """``config.clusters`` simulated clusters over ``processes`` workers, seeded by the topology."""

    def __init__(self, config: BenchConfig, workdir: Path, schemas: str, history: int, processes: int):
        if processes < 1:
            raise errors.ConfigError(f"the simulated fleet needs at least 1 process, not {processes}")
        self._config, self._workdir, self._schemas, self._history = config, workdir, schemas, history
        count = min(processes, config.clusters)
        self._shares = [list(range(k + 1, config.clusters + 1, count)) for k in range(count)]
        self._workers: list[_Process] = []
        self._owner: dict[str, _Process] = {}
        self._kubeconfigs: dict[str, Path] = {}
        self._callback: Callable[[Arrival], None] | None = None

    @property
    def names(self) -> list[str]:
        return [f"cluster-{i}" for i in range(1, self._config.clusters + 1)]

    def kubeconfig_path(self, name: str) -> Path:
        return self._kubeconfigs[name]

    def start(self) -> "SimProcesses":
        """Start every worker (each serves and seeds its share); return once all are ready."""
        context = multiprocessing.get_context("spawn")  # nothing of this process's threads
        try:
            for index, numbers in enumerate(self._shares):
                requests, theirs = context.Pipe()
                arrivals, their_arrivals = context.Pipe(duplex=False)
                proc = context.Process(
                    target=sim_worker.main, name=f"sim-worker-{index}", daemon=True,
                    args=(theirs, their_arrivals, self._config, numbers, str(self._workdir / f"worker-{index}"),
                          self._schemas, self._history))
                proc.start()
                theirs.close()
                their_arrivals.close()
                self._workers.append(_Process(index, numbers, proc, requests, arrivals))
            for worker in self._workers:
                for name, path in worker.answer("start", START_TIMEOUT).items():
                    self._kubeconfigs[name] = Path(path)
                    self._owner[name] = worker
                worker.reader = threading.Thread(target=self._read, args=(worker,), daemon=True,
                                                 name=f"arrivals-{worker.index}")
                worker.reader.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        for worker in self._workers:
            try:
                worker.requests.send(("stop", ()))
            except OSError:
                pass
        for worker in self._workers:
            worker.proc.join(timeout)
            if worker.proc.is_alive():
                worker.proc.kill()
                worker.proc.join(timeout)
            worker.requests.close()
            if worker.reader is not None:
                worker.reader.join(timeout)
            worker.arrivals.close()
        self._workers = []

    # --- what the benchmark asks --------------------------------------------------------
    def counts(self) -> dict[str, dict[str, int]]:
        """The hub's objects by kind in every cluster."""
        out: dict[str, dict[str, int]] = {}
        for part in self._ask_all("counts"):
            out.update(part)
        return {name: out[name] for name in self.names}

    def marks(self, clear: bool = True) -> dict[str, int]:
        out: dict[str, int] = {}
        for part in self._ask_all("marks", clear):
            out.update(part)
        return out

    def writes_since(self, marks: dict[str, int]) -> dict:
        return merged_writes(self._ask_all("writes_since", marks))

    def watch(self, callback: Callable[[Arrival], None]) -> None:
        """``callback`` gets every WorkloadEntry commit from now until ``unwatch``."""
        self._callback = callback
        self._ask_all("watch")

    def unwatch(self) -> None:
        self._ask_all("unwatch")
        self._callback = None

    def set_endpoints(self, cluster: str, service: str, not_ready: int) -> None:
        """``service``'s endpoints in ``cluster``, the first ``not_ready`` of them not ready."""
        self._ask(self._owner[cluster], "set_endpoints", cluster, service, not_ready)

    def floor_target(self, cluster: str, sample: int = 50) -> floor.Target:
        return self._ask(self._owner[cluster], "floor_target", cluster, sample)

    def cpu_seconds(self) -> float:
        """CPU the workers have used so far."""
        return sum(self._ask_all("cpu_seconds"))

    # --- plumbing ------------------------------------------------------------------------
    def _ask(self, worker: _Process, name: str, *args):
        with worker.lock:
            worker.send(name, args)
            return worker.answer(name, ANSWER_TIMEOUT)

    def _ask_all(self, name: str, *args) -> list:
        """Every worker asked at once, then every answer read: they work in parallel."""
        for worker in self._workers:
            worker.lock.acquire()
        try:
            for worker in self._workers:
                worker.send(name, args)
            return [worker.answer(name, ANSWER_TIMEOUT) for worker in self._workers]
        finally:
            for worker in self._workers:
                worker.lock.release()

    def _read(self, worker: _Process) -> None:
        while True:
            try:
                batch = worker.arrivals.recv()
            except (EOFError, OSError):
                return
            callback = self._callback
            if callback is not None:
                for seen in batch:
                    callback(seen)
