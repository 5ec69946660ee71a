"""The one composition root: ``build(settings)`` makes every part of a hub replica.

In order, each from the settings and the parts before it: the store and the
key-encryption key, telemetry, the trust root (authority and keeper), the hub
(the keeper declared to it as a source of per-cluster objects), VM onboarding,
the admin operations and checks, and the APIs that serve them. Nothing is
looked up by name or probed for: a part the hub runs is built here.

``HubService`` is what ``federation serve``, the demo (``kubesim.demo``) and the
tests run: the built parts, started in dependency order and stopped in reverse.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from federation import errors
from federation.api import trust_service
from federation.api.gen.federation.v1 import check_pb2_grpc, onboarding_pb2_grpc, trust_pb2_grpc
from federation.api.server import ApiServer
from federation.api.tls import ServerTLS
from federation.check.running import Checker
from federation.check.service import SERVICE_NAME as CHECK_SERVICE, CheckServicer
from federation.hub.app import Hub
from federation.hub.control import HubControl
from federation.model.gateway_health import Bounds
from federation.onboarding.groups import KIND as GROUP_KIND, parse_workload_group
from federation.onboarding.running import METRIC as VMS_METRIC, Onboarding
from federation.onboarding.servicers import VMADMIN_SERVICE, VMAdminServicer
from federation.settings import HubSettings
from federation.store import Store, open_store
from federation.telemetry import Telemetry
from federation.telemetry.reachability import GatewayProber
from federation.trust.authority import TrustAuthority
from federation.trust.keeping import TrustKeeper
from federation.trust.metrics import METRIC as EXPIRY_METRIC
from federation.trust.sealing import load_kek

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parts:
    """Everything ``build`` made, in the order it starts."""

    settings: HubSettings
    store: Store
    own_store: bool  # opened here, so closed here
    kek: bytes
    telemetry: Telemetry
    trust: TrustAuthority
    trust_keeper: TrustKeeper
    hub: Hub
    onboarding: Onboarding
    control: HubControl
    checker: Checker
    api: ApiServer
    gateway_prober: GatewayProber | None


def build(settings: HubSettings, store: Store | None = None) -> Parts:
    """Make a hub replica from ``settings`` (on ``store`` when given: tests share one)."""
    settings.validate()
    if not settings.tls_cert or not settings.tls_key:
        raise errors.ConfigError("the admin API serves TLS only: --tls-cert and --tls-key are required")
    if not settings.admin_token_file:
        raise errors.ConfigError("the admin API is authenticated: --admin-token-file is required")
    own_store = store is None
    store = store or open_store(settings.store_url or None, prefix=settings.store_prefix)
    kek = _kek(settings)
    telemetry = Telemetry(otlp_endpoint=settings.otlp_endpoint, otlp_ca_file=settings.otlp_ca_file)

    trust = TrustAuthority(store, kek, trust_domain=settings.trust_domain,
                           rotation_soak=settings.rotation_soak)
    hub = Hub(settings, store, kek, telemetry)
    keeper = TrustKeeper(hub, trust)
    keeper.prime()  # every registered cluster's cacerts before the hub first renders
    hub.add_cluster_objects(keeper)
    telemetry.gauge(EXPIRY_METRIC, keeper.expiry.observe)

    onboarding = Onboarding(settings, store, trust, keeper, telemetry, submit=hub.submit,
                            clusters=lambda: hub.snapshot.clusters)
    hub.add_resource_kind(GROUP_KIND, parse_workload_group, onboarding.tracker.on_group_event)
    keeper.set_agent_source(onboarding.tracker.live_names)
    telemetry.gauge(VMS_METRIC, onboarding.tracker.gauge)

    prober = None
    if settings.gateway_probe_interval > 0:
        bounds = None
        if settings.gateway_withdraw_after > 0:
            bounds = Bounds(settings.gateway_withdraw_after, settings.gateway_restore_after)
        prober = GatewayProber(hub, settings.gateway_probe_interval,
                               connect_timeout=min(1.0, settings.gateway_probe_interval), bounds=bounds)
        telemetry.gauge("federation_gateway_reachable", prober.observe)
        telemetry.gauge("federation_cluster_withdrawn", prober.observe_withdrawn)

    control = HubControl(hub, gateways=prober.report if prober else None)
    checker = Checker(control, store, kek, settings, trust)
    api = ApiServer(settings.listen, control, ServerTLS.from_files(settings.tls_cert, settings.tls_key),
                    settings.admin_token_file, health_address=settings.health_listen or None,
                    tracer=telemetry.tracer)
    api.add_service(trust_pb2_grpc.add_TrustServicer_to_server, trust_service.TrustServicer(trust, keeper),
                    trust_service.SERVICE_NAME, api.admin_auth)
    api.add_service(onboarding_pb2_grpc.add_VMAdminServicer_to_server,
                    VMAdminServicer(onboarding.registrar, onboarding.tokens), VMADMIN_SERVICE, api.admin_auth)
    api.add_service(check_pb2_grpc.add_CheckServicer_to_server, CheckServicer(checker),
                    CHECK_SERVICE, api.admin_auth)

    return Parts(settings, store, own_store, kek, telemetry, trust, keeper, hub, onboarding,
                 control, checker, api, prober)


def _kek(settings: HubSettings) -> bytes:
    if settings.kek_file:
        return load_kek(settings.kek_file)
    try:
        return load_kek(None)
    except errors.ConfigError:
        if settings.store_url.startswith("memory") or not settings.store_url:
            # Nothing outlives the process with the memory store: an ephemeral key is enough.
            return secrets.token_bytes(32)
        raise


class HubService:
    """A built hub replica, started and stopped as one: ``HubService(settings)``,
    or on a given ``store``. Its parts are its attributes (``hub``, ``control``,
    ``api``, ``trust``, ``trust_keeper``, ``onboarding``, ``checker``, ...)."""

    def __init__(self, settings: HubSettings, store: Store | None = None):
        parts = build(settings, store)
        self.parts = parts
        self.settings, self.store, self.kek, self.telemetry = parts.settings, parts.store, parts.kek, parts.telemetry
        self.trust, self.trust_keeper, self.hub = parts.trust, parts.trust_keeper, parts.hub
        self.onboarding, self.control, self.checker = parts.onboarding, parts.control, parts.checker
        self.api, self.gateway_prober = parts.api, parts.gateway_prober
        self.metrics_port = 0

    def _features(self) -> list:
        """What runs beside the hub, in start order."""
        return [self.trust_keeper, self.onboarding] + ([self.gateway_prober] if self.gateway_prober else [])

    def start(self) -> None:
        self.hub.start()
        for feature in self._features():
            feature.start()
        self.api.start()
        if self.settings.metrics_listen:
            self.metrics_port = self.telemetry.serve(self.settings.metrics_listen)
        log.info("hub serving", extra={"fields": {
            "admin": self.api.address, "store": self.settings.store_url.split("@")[-1],
            "metrics": self.settings.metrics_listen or "off"}})

    def stop(self) -> None:
        self.api.stop(2.0)
        for feature in reversed(self._features()):
            feature.stop()
        self.hub.stop()
        self.telemetry.shutdown()
        if self.parts.own_store:
            self.store.close()
