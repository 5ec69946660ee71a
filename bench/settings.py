"""What one benchmark run does, and the targets it is judged by."""

from __future__ import annotations

from dataclasses import dataclass, field

from federation import errors

# Targets on the project's 2-core reference machine.
TARGET_CONVERGENCE_SECONDS = 60.0  # any size
TARGET_CONVERGENCE_20X200_SECONDS = 15.0  # 20 clusters × 200 services
TARGET_P99_MS = {5.0: 150.0, 20.0: 300.0}  # at these rates (changes per second), every change
TARGET_AVAILABILITY_P99_MS = {50.0: 1000.0}  # availability changes only
TARGET_WEIGHT_MAX_MS = {50.0: 2000.0}  # every weight change converged within
TARGET_PEAK_RSS_MB = 300.0
TARGET_CPU_PER_WRITE_RATIO = 2.0  # hub CPU per write against the floor
TARGET_RSS_KB_PER_OBJECT = 1.0  # marginal RSS, across sizes


@dataclass
class BenchConfig:
    clusters: int = 20
    networks: int = 4
    services: int = 200
    replicas_per_service: int = 3
    endpoints: int = 10  # per service per cluster
    changes: int = 200
    rate: float = 5.0  # changes per second
    # further change phases on the same hub after the first: (rate, changes) each
    more_rates: list[tuple[float, int]] = field(default_factory=list)
    availability_every: int = 4  # every n-th change takes a cluster's endpoints to zero or back (0: never)
    floor_requests: int = 400  # applies of the minimal client measuring the floor (0: skip)
    idle_seconds: float = 30.0
    converge_timeout: float = 300.0
    change_timeout: float = 10.0  # a change not visible everywhere by then counts as missed
    seed: int = 1
    sim_processes: int = 2  # worker processes serving the simulated clusters, round-robin
    hub_args: list[str] = field(default_factory=list)  # extra `federation serve` flags
    hub_log_level: str = "warning"
    workdir: str = ""  # default: a temporary directory, removed afterwards
    schemas: str = ""  # CRD schemas for admission; default ../shared when present

    def validate(self) -> None:
        if self.clusters < 2 or self.networks < 1 or self.services < 1:
            raise errors.ConfigError("need at least 2 clusters, 1 network and 1 service")
        if self.clusters > 254:
            raise errors.ConfigError("at most 254 clusters (one loopback address each)")
        if not 1 <= self.replicas_per_service <= self.clusters:
            raise errors.ConfigError("--replicas-per-service must be between 1 and --clusters")
        if self.availability_every and self.replicas_per_service < 2:
            raise errors.ConfigError("availability changes need --replicas-per-service of at least 2")
        if any(rate <= 0 or n < 0 for rate, n in self.more_rates):
            raise errors.ConfigError("each further rate must be positive with a non-negative change count")
        if self.endpoints < 2:
            raise errors.ConfigError("--endpoints must be at least 2 (a flip must leave one ready)")
        if self.rate <= 0 or self.changes < 0 or self.idle_seconds < 0:
            raise errors.ConfigError("--rate must be positive; --changes and --idle-seconds not negative")
        if self.sim_processes < 1:
            raise errors.ConfigError("--sim-processes must be at least 1")
        if self.converge_timeout <= 0 or self.change_timeout <= 0:
            raise errors.ConfigError("timeouts must be positive")
