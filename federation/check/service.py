"""The ``federation.v1.Check`` servicer: runs ``Checker`` and converts its findings."""

from __future__ import annotations

from federation.api.gen.federation.v1 import check_pb2 as pb
from federation.api.gen.federation.v1 import check_pb2_grpc as pb_grpc
from federation.check.findings import Finding

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Check"].full_name


class CheckServicer(pb_grpc.CheckServicer):
    def __init__(self, checker):
        self._checker = checker

    def RunChecks(self, request: pb.RunChecksRequest, context) -> pb.RunChecksResponse:
        return pb.RunChecksResponse(findings=[to_message(f) for f in self._checker.run(request.cluster)])


def to_message(finding: Finding) -> pb.Finding:
    return pb.Finding(scope=finding.scope, check=finding.check, outcome=finding.outcome,
                      detail=finding.detail, fix=finding.fix)


def from_message(msg: pb.Finding) -> Finding:
    return Finding(msg.scope, msg.check, msg.outcome, msg.detail, msg.fix)
