"""What one benchmark run does, and the targets it is judged by."""

from __future__ import annotations

from dataclasses import dataclass, field

from federation import errors

# Targets on the project's 2-core reference machine.
TARGET_CONVERGENCE_SECONDS = 60.0
TARGET_P99_MS = 500.0
TARGET_PEAK_RSS_MB = 300.0


@dataclass
class BenchConfig:
    clusters: int = 20
    networks: int = 4
    services: int = 200
    replicas_per_service: int = 3
    endpoints: int = 10  # per service per cluster
    changes: int = 200
    rate: float = 5.0  # changes per second
    idle_seconds: float = 30.0
    converge_timeout: float = 300.0
    change_timeout: float = 10.0  # a change not visible everywhere by then counts as missed
    seed: int = 1
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
        if self.endpoints < 2:
            raise errors.ConfigError("--endpoints must be at least 2 (a flip must leave one ready)")
        if self.rate <= 0 or self.changes < 0 or self.idle_seconds < 0:
            raise errors.ConfigError("--rate must be positive; --changes and --idle-seconds not negative")
        if self.converge_timeout <= 0 or self.change_timeout <= 0:
            raise errors.ConfigError("timeouts must be positive")
