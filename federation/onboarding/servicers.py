"""The gRPC services of VM onboarding: ``Onboarding`` (agents) and ``VMAdmin`` (operators).

Handlers check fields, call the ``Registrar`` and convert; errors become status
codes in the serving interceptor. Every refusal is counted in
``federation_refusals`` (attribute ``reason``) and logged with the peer and
reason — never with the token, which no message contains.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from federation import errors
from federation.api.gen.federation.v1 import onboarding_pb2 as pb
from federation.api.gen.federation.v1 import onboarding_pb2_grpc as pb_grpc
from federation.onboarding.bootstrap import build_bootstrap
from federation.onboarding.limiting import EnrollmentLimiter
from federation.onboarding.peers import peer_address, peer_certificate
from federation.onboarding.refusals import reason_of
from federation.onboarding.registering import Enrollment, Registrar
from federation.onboarding.tokens import BootstrapTokens
from federation.onboarding.trust_following import TrustFollower
from federation.trust.rotation import Step
from federation.trust.workload import WorkloadCertificate

log = logging.getLogger(__name__)

ONBOARDING_SERVICE = pb.DESCRIPTOR.services_by_name["Onboarding"].full_name
VMADMIN_SERVICE = pb.DESCRIPTOR.services_by_name["VMAdmin"].full_name
# The hub's own failures: no refusal, and not charged to the caller's address.
_HUB_FAILURES = (errors.Transient, errors.Conflict, errors.StoreError)
_NOT_CHARGED = _HUB_FAILURES + (errors.LimitExceeded,)


def leaf_and_issuer(certificate: WorkloadCertificate) -> bytes:
    """The leaf then its issuing intermediate (the root travels in the bundle)."""
    marker = "-----END CERTIFICATE-----"
    intermediate = certificate.chain_pem.split(marker, 1)[0] + marker + "\n"
    return (certificate.cert_pem + intermediate.lstrip("\n")).encode()


class Refusals:
    """Counting and logging refusals (a failure of the hub's own, such as a store
    outage or a lost compare-and-swap, is logged but is no refusal)."""

    def __init__(self, counter=None):
        self._counter = counter

    def record(self, method: str, exc: BaseException, peer: str) -> None:
        if isinstance(exc, _HUB_FAILURES):
            log.info("onboarding call failed", extra={"fields": {
                "method": method, "peer": peer, "error": str(exc)}})
            return
        reason = reason_of(exc)
        if self._counter is not None:
            self._counter.add(1, {"reason": reason, "method": method})
        log.warning("onboarding refused", extra={"fields": {
            "method": method, "reason": reason, "peer": peer, "error": str(exc)}})


class OnboardingServicer(pb_grpc.OnboardingServicer):
    def __init__(self, registrar: Registrar, follower: TrustFollower, limiter: EnrollmentLimiter,
                 refusals: Refusals, *, clusters: Callable[[], dict], heartbeat_interval: int,
                 session_port: Callable[[], int], keeper=None):
        self._registrar = registrar
        self._follower = follower
        self._limiter = limiter
        self._refusals = refusals
        self._clusters = clusters
        self._interval = heartbeat_interval
        self._session_port = session_port
        self._keeper = keeper
        self._confirmed: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()

    def Enroll(self, request: pb.EnrollRequest, context) -> pb.EnrollResponse:
        peer = peer_address(context.peer())
        try:
            self._limiter.check(peer, request.token)
            enrollment = self._registrar.enroll(request.token, request.csr_pem,
                                                request.address, request.hostname)
        except errors.FederationError as exc:
            if not isinstance(exc, _NOT_CHARGED):
                self._limiter.failed(peer, request.token, exc)
            self._refusals.record("Enroll", exc, peer)
            raise
        return self._enrolled(enrollment)

    def _enrolled(self, enrollment: Enrollment) -> pb.EnrollResponse:
        record, cert, group = enrollment.record, enrollment.certificate, enrollment.group
        trust_domain = self._registrar.trust_domain
        boot = build_bootstrap(group, record.name, trust_domain, dict(self._clusters()))
        probe = None
        if group.probe is not None:
            probe = pb.HealthProbe(http_path=group.probe.http_path, port=group.probe.port,
                                   period_seconds=group.probe.period_seconds,
                                   timeout_seconds=group.probe.timeout_seconds)
        return pb.EnrollResponse(
            vm_name=record.name, certificate_chain_pem=leaf_and_issuer(cert),
            trust_bundle_pem=cert.trust_bundle_pem.encode(), namespace=group.namespace,
            service_account=record.service_account, spiffe_id=record.spiffe_id,
            bootstrap=pb.BootstrapConfig(
                cluster_env=boot.cluster_env, mesh_yaml=boot.mesh_yaml, hosts=boot.hosts,
                trust_domain=trust_domain, network=group.network, locality=group.locality,
                labels=boot.labels, probe=probe),
            heartbeat_interval_seconds=self._interval, session_port=self._session_port())

    def Renew(self, request: pb.RenewRequest, context) -> pb.RenewResponse:
        peer = peer_address(context.peer())
        try:
            caller = peer_certificate(context.auth_context(), "Renew")
            _, cert = self._registrar.renew(caller, request.csr_pem)
        except errors.FederationError as exc:
            self._refusals.record("Renew", exc, peer)
            raise
        return pb.RenewResponse(certificate_chain_pem=leaf_and_issuer(cert),
                                trust_bundle_pem=cert.trust_bundle_pem.encode())

    def Heartbeat(self, request: pb.HeartbeatRequest, context) -> pb.HeartbeatResponse:
        peer = peer_address(context.peer())
        try:
            caller = peer_certificate(context.auth_context(), "Heartbeat")
            record = self._registrar.heartbeat(caller, request.healthy)
        except errors.FederationError as exc:
            self._refusals.record("Heartbeat", exc, peer)
            raise
        state = self._follower.current()
        response = pb.HeartbeatResponse(next_heartbeat_seconds=self._interval)
        if state.has_root and request.bundle_fingerprint != state.fingerprint:
            response.trust_bundle_pem = state.bundle_pem.encode()
        plan = state.plan
        if plan is not None and plan.in_progress:
            # At step 2 certificates must come from the new root before step 3 drops the old.
            stale = plan.step == Step.INTERMEDIATES and record.root_id != plan.issuing_root_id()
            response.renew_now = stale
            if request.bundle_fingerprint == state.fingerprint and not stale:
                self._confirm(record.name, plan)
        return response

    def _confirm(self, name: str, plan) -> None:
        key = (name, plan.rotation_id, int(plan.step))
        with self._lock:
            if key in self._confirmed:
                return
        try:
            self._registrar.confirm_agent(name, plan.step)
        except (errors.Conflict, errors.ValidationError) as exc:
            log.debug("agent confirmation not recorded", extra={"fields": {
                "vm": name, "error": str(exc)}})
            return
        with self._lock:
            self._confirmed = {k for k in self._confirmed if k[1] == plan.rotation_id}
            self._confirmed.add(key)
        log.info("VM agent holds the rotation step", extra={"fields": {
            "vm": name, "rotation": plan.rotation_id, "step": plan.step.label}})
        if self._keeper is not None:
            self._keeper.wake()


class VMAdminServicer(pb_grpc.VMAdminServicer):
    def __init__(self, registrar: Registrar, tokens: BootstrapTokens):
        self._registrar = registrar
        self._tokens = tokens

    def CreateToken(self, request: pb.CreateTokenRequest, context) -> pb.CreateTokenResponse:
        if not request.group_namespace or not request.group_name:
            raise errors.ValidationError("group_namespace and group_name are required")
        if self._registrar.load_group(request.group_namespace, request.group_name) is None:
            raise errors.NotFound(f"WorkloadGroup {request.group_namespace}/{request.group_name} "
                                  "does not exist; apply it first")
        token, record = self._tokens.create(request.group_namespace, request.group_name,
                                            ttl=request.ttl_seconds, uses=request.uses)
        return pb.CreateTokenResponse(token=token, token_id=record.token_id,
                                      expires_unix=int(record.expires_at))

    def ListVMs(self, request, context) -> pb.ListVMsResponse:
        liveness = self._registrar.liveness()
        groups: dict = {}
        vms = []
        for record in self._registrar.records():
            ident = (record.group_namespace, record.group_name)
            if ident not in groups:
                groups[ident] = self._registrar.load_group(*ident)
            group = groups[ident]
            alive = liveness.get(record.name)
            vms.append(pb.VM(
                name=record.name, group_namespace=record.group_namespace,
                group_name=record.group_name, address=record.address,
                network=group.network if group else "", spiffe_id=record.spiffe_id,
                alive=alive is not None and not record.revoked,
                last_heartbeat_unix=self._registrar.last_heartbeat.get(record.name, 0.0),
                certificate_expiry_unix=record.not_after, revoked=record.revoked,
                hostname=record.hostname, certificate_serial=record.serial,
                healthy=bool(alive and alive.healthy)))
        return pb.ListVMsResponse(vms=vms)

    def RevokeVM(self, request: pb.RevokeVMRequest, context) -> pb.RevokeVMResponse:
        if not request.name:
            raise errors.ValidationError("name is required")
        self._registrar.revoke(request.name)
        return pb.RevokeVMResponse()

    def RevokeToken(self, request: pb.RevokeTokenRequest, context) -> pb.RevokeTokenResponse:
        self._tokens.revoke(request.token_id)
        return pb.RevokeTokenResponse()

    def ListTokens(self, request, context) -> pb.ListTokensResponse:
        # Records hold only the token's hash: nothing secret can leave here.
        return pb.ListTokensResponse(tokens=[
            pb.TokenInfo(token_id=r.token_id, group_namespace=r.group_namespace,
                         group_name=r.group_name, created_unix=r.created_at,
                         expires_unix=r.expires_at, uses_left=r.uses_left, revoked=r.revoked)
            for r in sorted(self._tokens.list(), key=lambda r: r.created_at)])
