"""Hub settings: one dataclass, filled from CLI flags (and their environment defaults)."""

from __future__ import annotations

from dataclasses import dataclass

from federation import errors
from federation.kube.kubeconfigs import parse_options

EXPORT_MODES = ("all", "namespace-label", "service-export")


@dataclass
class HubSettings:
    store_url: str = "memory://"
    store_prefix: str = "/mesh-federation/"
    listen: str = "127.0.0.1:8443"  # admin gRPC API
    onboarding_listen: str = ""  # VM onboarding gRPC API; empty = disabled
    metrics_listen: str = ""  # Prometheus endpoint; empty = disabled
    otlp_endpoint: str = ""  # OTLP/gRPC trace collector, http(s)://HOST:PORT; empty = no export
    otlp_ca_file: str = ""  # CA of an https:// collector (default: system roots)
    gateway_probe_interval: float = 0.0  # seconds between TCP probes of member gateways; 0 = off
    # Gateway-aware failover (with probing on): a cluster whose gateway has not answered
    # for this long is withdrawn from the other clusters' entries; 0 = probe only
    gateway_withdraw_after: float = 10.0
    gateway_restore_after: float = 0.0  # answering this long restores it (0: one round)
    health_listen: str = ""  # plaintext gRPC health only, for kubelet probes; empty = disabled
    tls_cert: str = ""
    tls_key: str = ""
    admin_token_file: str = ""
    kek_file: str = ""
    export_mode: str = "all"
    domain: str = "cluster.local"
    trust_domain: str = "cluster.local"
    debounce_quiet: float = 0.1
    debounce_max: float = 1.0
    debounce_weight_max: float = 0.2  # weight-only changes are flushed at most this often
    initial_sync_timeout: float = 30.0  # then prune with unreachable clusters' last-known state
    stale_ttl: float = 3600.0  # how long an unreachable cluster's endpoints are kept
    cluster_timeout: float = 10.0  # per request to a member cluster
    watch_timeout: int = 300
    vm_grace: float = 30.0
    vm_cert_ttl: float = 24 * 3600.0  # VM workload certificate lifetime
    # Seconds each root-rotation step is held once in use everywhere: one workload
    # certificate lifetime (Istio's default workload TTL is 24 h).
    rotation_soak: float = 24 * 3600.0
    onboarding_session_listen: str = ""  # mTLS port for Renew/Heartbeat; empty: onboarding port + 1
    vm_enroll_failures: int = 5  # failed enrollments per peer address before it is slowed down
    vm_enroll_refill_seconds: float = 10.0  # one more allowed failure per this many seconds
    vm_max_concurrent_rpcs: int = 64  # onboarding calls in flight; beyond: RESOURCE_EXHAUSTED at once
    vm_server_threads: int = 8  # onboarding server worker threads
    replica_id: str = ""  # this replica's name in the membership; empty: hostname plus a random suffix
    lease_ttl: int = 10  # replica membership lease (seconds): a dead replica's clusters move after it
    removal_retry_max: float = 30.0  # longest back-off between cleanups of a cluster being removed
    # kubeconfig options accepted beyond the safe ones (see federation.kube.kubeconfigs): exec, tokenFile, ...
    kubeconfig_options: tuple[str, ...] = ()

    def validate(self) -> None:
        self.kubeconfig_options = parse_options(self.kubeconfig_options)

        if self.export_mode not in EXPORT_MODES:
            raise errors.ConfigError(
                f"export mode {self.export_mode!r}: expected one of {', '.join(EXPORT_MODES)}")
        if not 0 <= self.debounce_quiet <= self.debounce_max:
            raise errors.ConfigError("debounce: need 0 <= quiet <= max delay")
        if self.debounce_weight_max < 0:
            raise errors.ConfigError("debounce: --debounce-weight-max must not be negative")
        if self.gateway_probe_interval < 0 or self.gateway_withdraw_after < 0:
            raise errors.ConfigError("--probe-gateways and --gateway-withdraw-after must not be negative")
        if self.gateway_withdraw_after and not 0 <= self.gateway_restore_after <= self.gateway_withdraw_after:
            raise errors.ConfigError("--gateway-restore-after must be between 0 and --gateway-withdraw-after")
        if self.lease_ttl < 2:
            raise errors.ConfigError("--lease-ttl must be at least 2 seconds (the lease is renewed "
                                     "and proven well within it)")
