"""VM onboarding on one hub replica, started and stopped as one.

Built by the hub's composition root (``federation.hub.service.build``) from the
settings, the trust authority and keeper, and the hub:

- every replica tracks VM liveness from the store (``sources.vm_tracking``)
  and hands live VMs to the hub, which renders them as WorkloadEntries into
  every member cluster;
- with ``onboarding_listen`` set, the onboarding server listens there (Enroll)
  and on the session port (Renew, Heartbeat; ``onboarding_session_listen`` or
  the next port); a confirmed root wakes the trust keeper.

The root registers ``WorkloadGroup`` as a hub resource, serves
``federation.v1.VMAdmin`` on the admin API and tells the keeper which live VMs
a root rotation step waits for.
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping

from federation.api.tls import ServerTLS
from federation.model import ChangeSet, ClusterInfo
from federation.onboarding.limiting import EnrollmentLimiter, FailureLimiter
from federation.onboarding.registering import Registrar
from federation.onboarding.servicers import OnboardingServicer, Refusals
from federation.onboarding.serving import OnboardingServer, session_address_for
from federation.onboarding.tokens import BootstrapTokens
from federation.onboarding.trust_following import TrustFollower
from federation.settings import HubSettings
from federation.sources.vm_tracking import LivenessTracker
from federation.store import Store
from federation.telemetry import Telemetry
from federation.trust.authority import TrustAuthority
from federation.trust.keeping import TrustKeeper

log = logging.getLogger(__name__)

METRIC = "federation_vms"


def heartbeat_interval(grace: float) -> int:
    """Three heartbeats per grace period, so one lost call never lets a VM lapse."""
    return max(1, int(grace / 3))


class Onboarding:
    """The onboarding feature of one hub replica. ``submit`` takes the VM changes
    (the hub's registry); ``clusters`` returns the member clusters known now."""

    def __init__(self, settings: HubSettings, store: Store, authority: TrustAuthority,
                 keeper: TrustKeeper, telemetry: Telemetry,
                 submit: Callable[[ChangeSet], None], clusters: Callable[[], Mapping[str, ClusterInfo]]):
        self.authority = authority
        self.tokens = BootstrapTokens(store)
        self.registrar = Registrar(store, authority, self.tokens, cert_ttl=float(settings.vm_cert_ttl),
                                   grace=settings.vm_grace)
        self.tracker = LivenessTracker(store, submit)
        burst, refill = int(settings.vm_enroll_failures), float(settings.vm_enroll_refill_seconds)
        self.limiter = EnrollmentLimiter(FailureLimiter(burst=burst, refill_seconds=refill),
                                         FailureLimiter(burst=burst, refill_seconds=refill),
                                         known=self.tokens.known)
        self.server: OnboardingServer | None = None
        self.follower: TrustFollower | None = None
        if settings.onboarding_listen:
            tls = ServerTLS.from_files(settings.tls_cert, settings.tls_key)
            self.follower = TrustFollower(authority, tls.key_pem, tls.cert_pem)
            servicer = OnboardingServicer(
                self.registrar, self.follower, self.limiter, Refusals(telemetry.refusals),
                clusters=clusters, heartbeat_interval=heartbeat_interval(settings.vm_grace),
                session_port=lambda: self.server.session_port if self.server else 0,
                keeper=keeper)
            session = settings.onboarding_session_listen or session_address_for(settings.onboarding_listen)
            self.server = OnboardingServer(
                settings.onboarding_listen, session, servicer, tls, self.follower,
                max_workers=int(settings.vm_server_threads),
                max_concurrent_rpcs=int(settings.vm_max_concurrent_rpcs))

    def start(self) -> None:
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
