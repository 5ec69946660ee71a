"""The VMAdmin API's client: ``AdminClient``'s connection (TLS, admin token, error
translation) with the ``federation.v1.VMAdmin`` calls."""

from __future__ import annotations

import grpc

from federation.api.client import AdminClient
from federation.api.gen.federation.v1 import onboarding_pb2 as pb
from federation.api.gen.federation.v1 import onboarding_pb2_grpc as pb_grpc


class VMAdminClient(AdminClient):
    """Same arguments as ``AdminClient``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._vms = pb_grpc.VMAdminStub(self._channel)

    def create_token(self, namespace: str, group: str, ttl_seconds: int = 3600,
                     uses: int = 1) -> pb.CreateTokenResponse:
        return self._vm_call("CreateToken", pb.CreateTokenRequest(
            group_namespace=namespace, group_name=group, ttl_seconds=ttl_seconds, uses=uses))

    def list_vms(self) -> list[pb.VM]:
        return list(self._vm_call("ListVMs", pb.ListVMsRequest()).vms)

    def revoke_vm(self, name: str) -> None:
        self._vm_call("RevokeVM", pb.RevokeVMRequest(name=name))

    def revoke_token(self, token_id: str) -> None:
        self._vm_call("RevokeToken", pb.RevokeTokenRequest(token_id=token_id))

    def list_tokens(self) -> list[pb.TokenInfo]:
        return list(self._vm_call("ListTokens", pb.ListTokensRequest()).tokens)

    def _vm_call(self, method: str, request):
        try:
            return getattr(self._vms, method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(f"VMAdmin.{method}", exc) from exc
