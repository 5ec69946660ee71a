"""Plugging the trust root into a running hub (``HubService`` calls ``install``).

After ``install(service)``:

- ``service.trust`` is the ``TrustAuthority``, for
  the onboarding feature to sign VM certificates and record agent confirmations;
- ``service.trust_keeper`` is the ``TrustKeeper``; ``set_agent_source(fn)`` tells
  it which VM agents a rotation step waits for, ``wake()`` runs a pass at once;
- the admin API serves ``federation.v1.Trust`` with the admin token;
- every member cluster gets its ``istio-system/cacerts`` Secret once a root exists;
- the gauge ``federation_cert_expiry_seconds`` reports each CA's remaining life.
"""

from __future__ import annotations

from federation.api import trust_service
from federation.api.gen.federation.v1 import trust_pb2_grpc
from federation.trust.authority import TrustAuthority
from federation.trust.keeping import TrustKeeper
from federation.trust.metrics import METRIC


def install(service) -> TrustKeeper:
    authority = TrustAuthority(service.store, service.kek,
                               trust_domain=service.settings.trust_domain,
                               rotation_soak=service.settings.rotation_soak)
    keeper = TrustKeeper(service.hub, authority)
    keeper.prime()
    service.hub.add_cluster_objects(keeper)
    service.api.add_service(trust_pb2_grpc.add_TrustServicer_to_server,
                            trust_service.TrustServicer(authority, keeper),
                            trust_service.SERVICE_NAME, service.api.admin_auth)
    service.telemetry.gauge(METRIC, keeper.expiry.observe)
    service.extensions.append(keeper)
    service.trust = authority
    service.trust_keeper = keeper
    return keeper
