"""The Trust service: the mesh root and its rotation over the admin API.

Requests are checked and handed to the ``TrustAuthority``; results are its
status (which never holds key material) converted to messages. Errors are
turned into status codes by the serving interceptor, not here. After a change
the keeper is woken, so Secrets move without waiting for its next pass.
"""

from __future__ import annotations

import datetime as dt

from federation.api.gen.federation.v1 import trust_pb2 as pb
from federation.api.gen.federation.v1 import trust_pb2_grpc as pb_grpc
from federation.errors import Transient, ValidationError

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Trust"].full_name
DEFAULT_ALGORITHM = "ecdsa-p256"
DEFAULT_ROOT_VALIDITY_DAYS = 3650
MAX_ROOT_VALIDITY_DAYS = 36500
MAX_PEM_CHARS = 64 * 1024


class TrustServicer(pb_grpc.TrustServicer):
    """``keeper`` (optional) is woken after a change and names who a step waits for."""

    def __init__(self, authority, keeper=None):
        self._authority = authority
        self._keeper = keeper

    def InitRoot(self, request: pb.InitRootRequest, context) -> pb.InitRootResponse:
        root_id = self._authority.init_root(request.algorithm or DEFAULT_ALGORITHM,
                                            _validity(request.validity_days))
        self._changed()
        return pb.InitRootResponse(root=self._root(root_id))

    def ImportRoot(self, request: pb.ImportRootRequest, context) -> pb.ImportRootResponse:
        _require_pems(request.cert_pem, request.key_pem, required=True)
        root_id = self._authority.import_root(request.cert_pem, request.key_pem)
        self._changed()
        return pb.ImportRootResponse(root=self._root(root_id))

    def StartRotation(self, request: pb.StartRotationRequest, context) -> pb.StartRotationResponse:
        importing = _require_pems(request.cert_pem, request.key_pem, required=False)
        if importing:
            self._authority.start_rotation(cert_pem=request.cert_pem, key_pem=request.key_pem)
        else:
            self._authority.start_rotation(request.algorithm or DEFAULT_ALGORITHM,
                                           _validity(request.validity_days))
        self._changed()
        return pb.StartRotationResponse(rotation=rotation_to_message(self._status()["rotation"]))

    def Status(self, request: pb.TrustStatusRequest, context) -> pb.TrustStatus:
        if not self._authority.has_root():
            return pb.TrustStatus(initialized=False, trust_domain=self._authority.trust_domain)
        return status_to_message(self._status())

    # -- helpers ---------------------------------------------------------------
    def _status(self) -> dict:
        if self._keeper is None:
            return self._authority.status()
        try:
            self._keeper.agents()
        except Exception as exc:  # noqa: BLE001 - the source belongs to another feature
            raise Transient("the list of VM agents is unavailable; try again") from exc
        return self._keeper.status()

    def _root(self, root_id: str) -> pb.Root:
        for root in self._authority.status()["roots"]:
            if root["id"] == root_id:
                return root_to_message(root)
        return pb.Root(id=root_id)

    def _changed(self) -> None:
        if self._keeper is not None:
            self._keeper.wake()


def _validity(days: int) -> int:
    if not 0 <= days <= MAX_ROOT_VALIDITY_DAYS:
        raise ValidationError(f"validity_days must be between 1 and {MAX_ROOT_VALIDITY_DAYS} "
                              "(0 for the default)")
    return days or DEFAULT_ROOT_VALIDITY_DAYS


def _require_pems(cert_pem: str, key_pem: str, *, required: bool) -> bool:
    """Whether a certificate and key were given; both or (unless ``required``) neither."""
    if not cert_pem and not key_pem and not required:
        return False
    missing = [name for name, value in (("cert_pem", cert_pem), ("key_pem", key_pem))
               if not value.strip()]
    if missing:
        raise ValidationError(f"missing required field{'s' if len(missing) > 1 else ''}: "
                              f"{', '.join(missing)}")
    if len(cert_pem) > MAX_PEM_CHARS or len(key_pem) > MAX_PEM_CHARS:
        raise ValidationError(f"a PEM of more than {MAX_PEM_CHARS} characters is refused")
    return True


# -- status dict → messages ---------------------------------------------------------
def _timestamp(iso: str | None, into) -> None:
    if iso:
        into.FromDatetime(dt.datetime.fromisoformat(iso))


def root_to_message(root: dict) -> pb.Root:
    msg = pb.Root(id=root["id"], fingerprint=root["fingerprint"], subject=root["subject"],
                  algorithm=root.get("algorithm") or "", role=root.get("role", ""),
                  imported=bool(root.get("imported")))
    _timestamp(root.get("not_before"), msg.not_before)
    _timestamp(root.get("not_after"), msg.not_after)
    return msg


def intermediate_to_message(ca: dict) -> pb.Intermediate:
    msg = pb.Intermediate(cluster=ca["cluster"], issuer_root=ca["issuer_root"],
                          fingerprint=ca["fingerprint"], subject=ca["subject"],
                          up_to_date=bool(ca["up_to_date"]),
                          confirmed_step=int(ca.get("confirmed_step", 0)))
    _timestamp(ca.get("not_before"), msg.not_before)
    _timestamp(ca.get("not_after"), msg.not_after)
    _timestamp(ca.get("renew_at"), msg.renew_at)
    return msg


def rotation_to_message(rotation: dict) -> pb.Rotation:
    return pb.Rotation(
        step=rotation["step"], step_name=rotation["step_name"],
        rotation_id=rotation["rotation_id"], current_root=rotation["current_root"],
        new_root=rotation["new_root"], previous_root=rotation["previous_root"],
        bundle=rotation["bundle"], pending_clusters=rotation["pending_clusters"],
        pending_agents=rotation.get("pending_agents", []),
        complete=bool(rotation.get("complete")),
        soak_seconds=float(rotation.get("soak_seconds", 0.0)),
        soak_left_seconds=float(rotation.get("soak_left_seconds", 0.0)),
        clusters=[pb.ClusterGate(cluster=c["cluster"], confirmed=bool(c["confirmed"]),
                                 waiting_for=c.get("waiting_for", ""),
                                 published_roots=c.get("published_roots", []),
                                 cacerts_written=bool(c.get("cacerts_written")),
                                 signing_intermediate=c.get("signing_intermediate", ""),
                                 intermediate_note=c.get("intermediate_note", ""))
                  for c in rotation.get("clusters", [])],
        waiting_for=rotation.get("waiting_for", []),
        intermediate_check=rotation.get("intermediate_check", ""))


def status_to_message(status: dict) -> pb.TrustStatus:
    msg = pb.TrustStatus(
        initialized=True, trust_domain=status["trust_domain"],
        roots=[root_to_message(r) for r in status["roots"]],
        intermediates=[intermediate_to_message(i) for i in status["intermediates"]],
        rotation=rotation_to_message(status["rotation"]))
    if status.get("workload_intermediate"):
        msg.workload_intermediate.CopyFrom(intermediate_to_message(status["workload_intermediate"]))
    return msg
