"""The agent's work: enroll once, then heartbeat and renew until told to stop.

Each heartbeat is a short unary call on the session port (mutual TLS with the
VM's certificate); its answer may carry a new trust bundle (a root rotation:
``root-cert.pem`` is rewritten) or ask for a renewal. A certificate is renewed
once ``renew_fraction`` of its life has passed (two thirds by default), with a
new key each time. When the hub cannot be reached the files stay as they are
and the agent retries with capped exponential back-off and jitter (tenacity).
A refusal that no retry can fix — the VM was revoked, its certificate expired or
belongs to nobody — ends ``run`` with ``NEEDS_ENROLLMENT``.

Nothing here logs the token or a private key.
"""

from __future__ import annotations

import logging
import threading
import time

from tenacity import Retrying, retry_if_exception_type, wait_exponential_jitter

from federation import errors
from federation.agent import credentials, files, probing
from federation.agent.connection import Session, enroll
from federation.agent.credentials import CertificateInfo
from federation.agent.files import AgentFiles, AgentState
from federation.api.gen.federation.v1 import onboarding_pb2 as pb
from federation.model import ids

log = logging.getLogger(__name__)

OK = 0
NEEDS_ENROLLMENT = 3  # systemd: RestartPreventExitStatus=3
UNTRUSTED_HUB = 4  # the CA bundle does not verify the hub
WRONG_ENDPOINT = 5  # the address is not the enroll port
RETRYABLE = (errors.Transient, errors.LimitExceeded, errors.Conflict)


def split_host_port(address: str) -> tuple[str, int]:
    return ids.split_host_port(address, "hub address")


class Agent:
    """One VM's agent. Several can live in one process (benchmarks, scale tests):
    all state is in the instance and its output directory."""

    def __init__(self, out: str, *, ca_pem: bytes | None = None,
                 renew_fraction: float = credentials.RENEW_FRACTION, max_backoff: float = 30.0,
                 timeout: float = 10.0, stop: threading.Event | None = None):
        if not 0 < renew_fraction < 1:
            raise errors.ConfigError("renew fraction must be between 0 and 1")
        self.files = AgentFiles(out)
        self._ca_pem = ca_pem
        self.renew_fraction = renew_fraction
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.stop_event = stop or threading.Event()
        self.state: AgentState | None = None
        self.certificate: CertificateInfo | None = None
        self._session: Session | None = None
        self._fingerprint = ""
        self._renew_requested = False
        self._probed: tuple[float, bool] | None = None  # (when, result)
        self.renewals = 0
        self.bundle_updates = 0

    # -- enrollment ----------------------------------------------------------------------
    def join(self, hub: str, token: str, address: str, hostname: str) -> AgentState:
        """Enroll with ``token`` (retrying while the hub is unreachable) and write
        every file. ConfigError when this directory holds an enrollment already."""
        if self._ca_pem is None:
            raise errors.ConfigError("joining needs the hub's CA bundle")
        host, port = split_host_port(hub)
        self.files.prepare()
        if self.files.enrolled():
            raise errors.ConfigError(f"{self.files.dir} holds an enrollment already: use "
                                     "`federation-agent run`, or another --out")
        key = credentials.new_key()
        request = pb.EnrollRequest(token=token, csr_pem=credentials.build_csr(key),
                                   address=address, hostname=hostname)
        response = self._retrying(lambda: enroll(hub, self._ca_pem, request, self.timeout))
        boot = response.bootstrap
        probe = ({"http_path": boot.probe.http_path, "port": boot.probe.port,
                  "period_seconds": boot.probe.period_seconds,
                  "timeout_seconds": boot.probe.timeout_seconds}
                 if boot.HasField("probe") else {})
        self.files.write_hub_ca(self._ca_pem)
        self.files.write_credentials(response.certificate_chain_pem, credentials.key_pem(key))
        self.files.write_bundle(response.trust_bundle_pem)
        self.files.write_sidecar_config(dict(boot.cluster_env), boot.mesh_yaml, boot.hosts)
        state = AgentState(vm_name=response.vm_name, hub_host=host, enroll_port=port,
                           session_port=response.session_port, spiffe_id=response.spiffe_id,
                           namespace=response.namespace, service_account=response.service_account,
                           heartbeat_interval=max(1, int(response.heartbeat_interval_seconds)),
                           probe=probe)
        self.files.save_state(state)
        self._adopt(state)
        log.info("enrolled", extra={"fields": {
            "vm": state.vm_name, "spiffe_id": state.spiffe_id, "out": str(self.files.dir),
            "not_after": self.certificate.not_after.isoformat()}})
        return state

    def load(self) -> AgentState:
        """Resume from the output directory (after a restart: no token needed)."""
        if not self.files.enrolled():
            raise errors.ConfigError(f"{self.files.dir} holds no enrollment: run "
                                     "`federation-agent join` first")
        state = self.files.load_state()
        if self._ca_pem is None:
            self._ca_pem = self.files.read(files.HUB_CA)
        self._adopt(state)
        return state

    def _adopt(self, state: AgentState) -> None:
        self.state = state
        self.certificate = CertificateInfo.from_chain(self.files.read(files.CERT_CHAIN))
        self._fingerprint = credentials.bundle_fingerprint(self.files.read(files.ROOT_CERT))
        self._reconnect()

    def _reconnect(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = Session(self.state.session_address, self._ca_pem,
                                self.files.read(files.CERT_CHAIN), self.files.read(files.KEY),
                                self.timeout)

    # -- one step each -------------------------------------------------------------------
    def healthy(self) -> bool:
        """The group's probe, run at most once per its period (heartbeats may be more often)."""
        if not self.state.probe:
            return True
        now = time.monotonic()
        period = float(self.state.probe.get("period_seconds") or 10)
        if self._probed is None or now - self._probed[0] >= period:
            self._probed = (now, probing.probe(self.state.probe))
        return self._probed[1]

    def heartbeat_once(self) -> pb.HeartbeatResponse:
        response = self._session.heartbeat(self._fingerprint, self.healthy())
        if response.trust_bundle_pem:
            self._take_bundle(response.trust_bundle_pem)
        if response.renew_now:
            self._renew_requested = True
        return response

    def renewal_due(self) -> bool:
        now = credentials.utcnow()
        return self._renew_requested or now >= self.certificate.renew_at(self.renew_fraction)

    def renew(self) -> CertificateInfo:
        """A new key and certificate for the same identity."""
        key = credentials.new_key()
        response = self._session.renew(credentials.build_csr(key, self.state.spiffe_id))
        self.files.write_credentials(response.certificate_chain_pem, credentials.key_pem(key))
        if response.trust_bundle_pem:
            self._take_bundle(response.trust_bundle_pem)
        previous = self.certificate
        self.certificate = CertificateInfo.from_chain(response.certificate_chain_pem)
        self._renew_requested = False
        self.renewals += 1
        self._reconnect()
        log.info("certificate renewed", extra={"fields": {
            "vm": self.state.vm_name, "serial": self.certificate.serial,
            "previous_serial": previous.serial if previous else "",
            "not_after": self.certificate.not_after.isoformat()}})
        return self.certificate

    def _take_bundle(self, bundle_pem: bytes) -> None:
        fingerprint = credentials.bundle_fingerprint(bundle_pem)
        if fingerprint == self._fingerprint:
            return
        self.files.write_bundle(bundle_pem)
        self._fingerprint = fingerprint
        self.bundle_updates += 1
        log.info("trust bundle updated", extra={"fields": {
            "vm": self.state.vm_name, "roots": credentials.certificate_count(bundle_pem),
            "fingerprint": fingerprint[:16]}})

    def tick(self) -> int:
        """Renew when due, then heartbeat; returns seconds until the next tick."""
        if self.certificate.expired(credentials.utcnow()):
            raise errors.AuthError(f"the certificate of VM {self.state.vm_name} expired at "
                                   f"{self.certificate.not_after.isoformat()}")
        if self.renewal_due():
            self.renew()
        response = self.heartbeat_once()
        if self._renew_requested:
            self.renew()  # asked by the hub during a root rotation
        return max(1, int(response.next_heartbeat_seconds or self.state.heartbeat_interval))

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> int:
        """Heartbeat and renew until ``stop_event``; OK, or NEEDS_ENROLLMENT after a
        refusal no retry can fix."""
        log.info("agent running", extra={"fields": {
            "vm": self.state.vm_name, "session": self.state.session_address}})
        while not self.stop_event.is_set():
            try:
                interval = self._retrying(self.tick)
            except errors.AuthError as exc:  # includes PermissionDenied
                log.error("the hub refuses this VM; enroll again with a new token",
                          extra={"fields": {"vm": self.state.vm_name, "error": str(exc)}})
                return NEEDS_ENROLLMENT
            except RETRYABLE:
                break  # only when stopping: retries never give up otherwise
            except errors.FederationError as exc:
                log.error("heartbeat failed; retrying", extra={"fields": {"error": str(exc)}})
                interval = self.state.heartbeat_interval
            self.stop_event.wait(interval)
        log.info("agent stopped", extra={"fields": {"vm": self.state.vm_name}})
        return OK

    def _retrying(self, operation):
        """``operation()``, retried on transient failures with capped exponential
        back-off and jitter until it succeeds or the agent is stopped."""
        retrying = Retrying(
            retry=retry_if_exception_type(RETRYABLE),
            wait=wait_exponential_jitter(multiplier=0.5, max=self.max_backoff, jitter=1.0),
            stop=lambda _state: self.stop_event.is_set(),
            sleep=self.stop_event.wait,
            before_sleep=self._log_retry,
            reraise=True)
        return retrying(operation)

    def _log_retry(self, state) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("hub unreachable; retrying", extra={"fields": {
            "vm": self.state.vm_name if self.state else "", "attempt": state.attempt_number,
            "in_s": round(state.next_action.sleep, 2) if state.next_action else 0,
            "error": str(exc)}})

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
