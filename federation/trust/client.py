"""The Trust API's client: the admin connection (TLS, token, error translation)
of ``AdminClient`` with the ``federation.v1.Trust`` calls, answering JSON-ready dicts."""

from __future__ import annotations

import datetime as dt

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from federation.api.client import AdminClient
from federation.api.gen.federation.v1 import trust_pb2 as pb
from federation.api.gen.federation.v1 import trust_pb2_grpc as pb_grpc


class TrustClient(AdminClient):
    """Same arguments as ``AdminClient``; every call gives up after ``timeout`` seconds."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._trust = pb_grpc.TrustStub(self._channel)

    def init_root(self, algorithm: str = "", validity_days: int = 0) -> dict:
        req = pb.InitRootRequest(algorithm=algorithm, validity_days=validity_days)
        return root_from_message(self._trust_call("InitRoot", req).root)

    def import_root(self, cert_pem: str, key_pem: str) -> dict:
        req = pb.ImportRootRequest(cert_pem=cert_pem, key_pem=key_pem)
        return root_from_message(self._trust_call("ImportRoot", req).root)

    def start_rotation(self, algorithm: str = "", validity_days: int = 0, *,
                       cert_pem: str = "", key_pem: str = "") -> dict:
        req = pb.StartRotationRequest(algorithm=algorithm, validity_days=validity_days,
                                      cert_pem=cert_pem, key_pem=key_pem)
        return rotation_from_message(self._trust_call("StartRotation", req).rotation)

    def trust_status(self) -> dict:
        return status_from_message(self._trust_call("Status", pb.TrustStatusRequest()))

    def _trust_call(self, method: str, request):
        try:
            return getattr(self._trust, method)(request, timeout=self.timeout,
                                                metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(f"Trust.{method}", exc) from exc


# -- messages → dicts ---------------------------------------------------------------
def _iso(ts: Timestamp, present: bool) -> str | None:
    return ts.ToDatetime(tzinfo=dt.timezone.utc).isoformat() if present else None


def root_from_message(msg: pb.Root) -> dict:
    return {"id": msg.id, "fingerprint": msg.fingerprint, "subject": msg.subject,
            "not_before": _iso(msg.not_before, msg.HasField("not_before")),
            "not_after": _iso(msg.not_after, msg.HasField("not_after")),
            "algorithm": msg.algorithm, "role": msg.role, "imported": msg.imported}


def intermediate_from_message(msg: pb.Intermediate) -> dict:
    return {"cluster": msg.cluster, "issuer_root": msg.issuer_root,
            "fingerprint": msg.fingerprint, "subject": msg.subject,
            "not_before": _iso(msg.not_before, msg.HasField("not_before")),
            "not_after": _iso(msg.not_after, msg.HasField("not_after")),
            "renew_at": _iso(msg.renew_at, msg.HasField("renew_at")),
            "up_to_date": msg.up_to_date, "confirmed_step": msg.confirmed_step}


def rotation_from_message(msg: pb.Rotation) -> dict:
    return {"step": msg.step, "step_name": msg.step_name, "rotation_id": msg.rotation_id,
            "current_root": msg.current_root, "new_root": msg.new_root,
            "previous_root": msg.previous_root, "bundle": list(msg.bundle),
            "pending_clusters": list(msg.pending_clusters),
            "pending_agents": list(msg.pending_agents), "complete": msg.complete,
            "soak_seconds": msg.soak_seconds, "soak_left_seconds": msg.soak_left_seconds,
            "clusters": [{"cluster": c.cluster, "confirmed": c.confirmed,
                          "waiting_for": c.waiting_for,
                          "published_roots": list(c.published_roots),
                          "cacerts_written": c.cacerts_written,
                          "signing_intermediate": c.signing_intermediate,
                          "intermediate_note": c.intermediate_note} for c in msg.clusters],
            "waiting_for": list(msg.waiting_for), "intermediate_check": msg.intermediate_check}


def status_from_message(msg: pb.TrustStatus) -> dict:
    if not msg.initialized:
        return {"initialized": False, "trust_domain": msg.trust_domain}
    return {"initialized": True, "trust_domain": msg.trust_domain,
            "roots": [root_from_message(r) for r in msg.roots],
            "intermediates": [intermediate_from_message(i) for i in msg.intermediates],
            "workload_intermediate": (intermediate_from_message(msg.workload_intermediate)
                                      if msg.HasField("workload_intermediate") else None),
            "rotation": rotation_from_message(msg.rotation)}
