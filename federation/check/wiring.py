"""Plugging ``federation.v1.Check`` into a running hub (``HubService`` calls ``install``),
served with the admin token."""

from __future__ import annotations

from federation.api.gen.federation.v1 import check_pb2_grpc
from federation.check.running import Checker
from federation.check.service import SERVICE_NAME, CheckServicer


def install(service) -> None:
    service.checker = Checker(service)
    service.api.add_service(check_pb2_grpc.add_CheckServicer_to_server, CheckServicer(service.checker),
                            SERVICE_NAME, service.api.admin_auth)
