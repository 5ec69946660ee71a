"""Plugging VM onboarding into a running hub (``HubService`` calls ``install``).

After ``install(service)``:

- ``federation apply`` accepts ``WorkloadGroup`` resources;
- the admin API serves ``federation.v1.VMAdmin`` with the admin token;
- every replica tracks VM liveness from the store and renders live VMs as
  WorkloadEntries into every member cluster; gauge ``federation_vms``;
- with ``onboarding_listen`` set, the onboarding server listens there (Enroll)
  and on the session port (Renew, Heartbeat; ``onboarding_session_listen`` or
  the next port);
- the trust keeper (when trust is installed first) learns the live VMs a root
  rotation step waits for.

Settings beyond ``HubSettings``' own fields are read with ``getattr`` and the
defaults of ``settings.OnboardingSettings``.
"""

from __future__ import annotations

import logging

from federation import errors
from federation.api.gen.federation.v1 import onboarding_pb2_grpc as pb_grpc
from federation.api.tls import ServerTLS
from federation.onboarding.groups import KIND as GROUP_KIND, parse_workload_group
from federation.onboarding.limiting import EnrollmentLimiter, FailureLimiter
from federation.onboarding.registering import Registrar
from federation.onboarding.servicers import (
    VMADMIN_SERVICE, OnboardingServicer, Refusals, VMAdminServicer,
)
from federation.onboarding.serving import OnboardingServer, session_address_for
from federation.onboarding.settings import OnboardingSettings
from federation.onboarding.tokens import BootstrapTokens
from federation.onboarding.tracking import LivenessTracker
from federation.onboarding.trust_following import TrustFollower
from federation.trust.authority import TrustAuthority

log = logging.getLogger(__name__)

_DEFAULTS = OnboardingSettings()
METRIC = "federation_vms"


def _setting(settings, name: str):
    return getattr(settings, name, getattr(_DEFAULTS, name))


def heartbeat_interval(grace: float) -> int:
    """Three heartbeats per grace period, so one lost call never lets a VM lapse."""
    return max(1, int(grace / 3))


class Onboarding:
    """The onboarding feature of one hub replica, started and stopped as one."""

    def __init__(self, service):
        settings = service.settings
        authority = getattr(service, "trust", None)
        self._own_authority = authority is None
        self.authority = authority or TrustAuthority(service.store, service.kek,
                                                     trust_domain=settings.trust_domain)
        self.tokens = BootstrapTokens(service.store)
        self.registrar = Registrar(service.store, self.authority, self.tokens,
                                   cert_ttl=float(_setting(settings, "vm_cert_ttl")),
                                   grace=settings.vm_grace)
        hub = service.hub
        # hub.registry is replaced when the hub starts: look it up at each submit.
        self.tracker = LivenessTracker(service.store, lambda changes: hub.registry.submit(changes))
        burst = int(_setting(settings, "vm_enroll_failures"))
        refill = float(_setting(settings, "vm_enroll_refill_seconds"))
        self.limiter = EnrollmentLimiter(FailureLimiter(burst=burst, refill_seconds=refill),
                                         FailureLimiter(burst=burst, refill_seconds=refill),
                                         known=self.tokens.known)
        self.server: OnboardingServer | None = None
        self.follower: TrustFollower | None = None
        if settings.onboarding_listen:
            tls = ServerTLS.from_files(settings.tls_cert, settings.tls_key)
            self.follower = TrustFollower(self.authority, tls.key_pem, tls.cert_pem)
            servicer = OnboardingServicer(
                self.registrar, self.follower, self.limiter,
                Refusals(service.telemetry.refusals),
                clusters=lambda: hub.snapshot.clusters,
                heartbeat_interval=heartbeat_interval(settings.vm_grace),
                session_port=lambda: self.server.session_port if self.server else 0,
                keeper=getattr(service, "trust_keeper", None))
            session = _setting(settings, "onboarding_session_listen") or \
                session_address_for(settings.onboarding_listen)
            self.server = OnboardingServer(
                settings.onboarding_listen, session, servicer, tls, self.follower,
                max_workers=int(_setting(settings, "vm_server_threads")),
                max_concurrent_rpcs=int(_setting(settings, "vm_max_concurrent_rpcs")))

    def start(self) -> None:
        if self._own_authority and not self.authority.has_root():
            # Without the trust feature nobody else creates the root VMs need.
            try:
                self.authority.init_root()
            except errors.AlreadyExists:
                pass
        self.tracker.start()
        if self.follower is not None:
            self.follower.start()
        if self.server is not None:
            try:
                self.server.start()
            except BaseException:
                self.stop()
                raise

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.follower is not None:
            self.follower.stop()
        self.tracker.stop()


def install(service) -> Onboarding:
    onboarding = Onboarding(service)
    service.hub.add_resource_kind(GROUP_KIND, parse_workload_group,
                                  onboarding.tracker.on_group_event)
    service.api.add_service(pb_grpc.add_VMAdminServicer_to_server,
                            VMAdminServicer(onboarding.registrar, onboarding.tokens),
                            VMADMIN_SERVICE, service.api.admin_auth)
    service.telemetry.gauge(METRIC, onboarding.tracker.gauge)
    keeper = getattr(service, "trust_keeper", None)
    if keeper is not None:
        keeper.set_agent_source(onboarding.tracker.live_names)
    service.extensions.append(onboarding)
    service.onboarding = onboarding
    return onboarding
