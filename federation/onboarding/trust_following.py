"""Following the mesh trust bundle for the onboarding listeners.

``TrustFollower`` polls the rotation plan's revision (one store read) every
``interval`` and re-reads the bundle only when it moved, so heartbeats compare
fingerprints against memory, and the session port's client-certificate roots
follow a rotation: gRPC asks ``certificate_config`` before every new TLS
handshake and gets a new configuration only when the bundle changed.

Before any root exists nothing can authenticate on the session port: the
client roots are then a throwaway self-signed certificate whose key is
discarded at once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass

import grpc

from federation import errors
from federation.api.tls import make_self_signed_ca
from federation.trust.authority import TrustAuthority
from federation.trust.rotation import RotationPlan
from federation.workers import Worker, deadline_in

log = logging.getLogger(__name__)


def bundle_fingerprint(bundle_pem: str | bytes) -> str:
    """SHA-256 (hex) of the bundle's exact bytes: what agents report in heartbeats."""
    data = bundle_pem.encode() if isinstance(bundle_pem, str) else bundle_pem
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TrustState:
    plan: RotationPlan | None
    plan_revision: int
    bundle_pem: str  # "" before any root exists
    fingerprint: str

    @property
    def has_root(self) -> bool:
        return bool(self.bundle_pem)


class TrustFollower:
    def __init__(self, authority: TrustAuthority, server_key_pem: bytes, server_cert_pem: bytes,
                 interval: float = 0.5):
        self.authority = authority
        self._pair = (server_key_pem, server_cert_pem)
        self.interval = interval
        self._state = TrustState(None, -1, "", "")
        self._served_revision: int | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._worker = Worker("vm-trust-follower", self._run, stop=self._stop)
        self._placeholder: bytes | None = None

    # -- state ------------------------------------------------------------------
    def current(self) -> TrustState:
        return self._state

    def refresh(self) -> TrustState:
        """Read the plan's revision; the bundle too when it moved."""
        plan, revision = self.authority.plan_state()
        with self._lock:
            if revision == self._state.plan_revision:
                return self._state
            bundle = self.authority.trust_bundle() if plan is not None else ""
            self._state = TrustState(plan, revision, bundle,
                                     bundle_fingerprint(bundle) if bundle else "")
        log.info("trust bundle loaded", extra={"fields": {
            "step": plan.step.label if plan else "no-root", "fingerprint": self._state.fingerprint[:16]}})
        return self._state

    # -- session port credentials --------------------------------------------------
    def server_credentials(self) -> grpc.ServerCredentials:
        """TLS requiring a client certificate that chains to the current bundle."""
        config, revision = self._configuration()
        self._served_revision = revision
        return grpc.dynamic_ssl_server_credentials(config, self.certificate_config,
                                                   require_client_authentication=True)

    def certificate_config(self):
        """gRPC's fetcher: a new configuration when the bundle changed, else None.
        Runs before each handshake, so it only looks at memory."""
        try:
            if self._state.plan_revision == self._served_revision:
                return None
            config, revision = self._configuration()
            self._served_revision = revision
            log.info("session port trusts a new bundle", extra={"fields": {
                "fingerprint": self._state.fingerprint[:16]}})
            return config
        except Exception:  # noqa: BLE001 - raising here would fail the handshake in C
            log.exception("session TLS configuration failed; keeping the previous one")
            return None

    def _configuration(self):
        state = self._state
        roots = state.bundle_pem.encode() if state.has_root else self._placeholder_root()
        config = grpc.ssl_server_certificate_configuration([self._pair], root_certificates=roots)
        return config, state.plan_revision

    def _placeholder_root(self) -> bytes:
        if self._placeholder is None:
            self._placeholder = make_self_signed_ca("mesh-federation: no mesh root yet").cert_pem
        return self._placeholder

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        self.refresh()
        self._stop.clear()
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> bool:
        return self._worker.stop(deadline_in(timeout))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except errors.FederationError as exc:
                log.warning("trust bundle not refreshed", extra={"fields": {"error": str(exc)}})
