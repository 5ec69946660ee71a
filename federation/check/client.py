"""The Check API's client: the admin connection of ``AdminClient`` with ``RunChecks``."""

from __future__ import annotations

import grpc

from federation.api.client import AdminClient
from federation.api.gen.federation.v1 import check_pb2 as pb
from federation.api.gen.federation.v1 import check_pb2_grpc as pb_grpc
from federation.check.findings import Finding
from federation.check.service import from_message


class CheckClient(AdminClient):
    """Same arguments as ``AdminClient``; member checks take a few seconds each."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._check = pb_grpc.CheckStub(self._channel)

    def run_checks(self, cluster: str = "") -> list[Finding]:
        try:
            answer = self._check.RunChecks(pb.RunChecksRequest(cluster=cluster), timeout=self.timeout,
                                           metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error("Check.RunChecks", exc) from exc
        return [from_message(m) for m in answer.findings]
