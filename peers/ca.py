"""Asking a real istiod's CA for a workload certificate, and checking the chain.

The probe does what istio-agent does: a fresh key and a CSR for
``spiffe://<trust-domain>/ns/<ns>/sa/<sa>``, sent to
``istio.v1.auth.IstioCertificateService/CreateCertificate`` on istiod's secure
gRPC address over TLS (verified against the root istiod publishes), carrying a
service-account token from the real API server (TokenRequest, audience
``istio-ca``) and the ``ClusterID`` header istiod uses to pick the API server
that reviews the token. ``verify_chain`` asks ``openssl verify``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from federation.errors import AuthError, Transient
from federation.trust.certificates import generate_key, private_key_pem
from peers.errors import PeerError
from peers.gen.istio import ca_pb2, ca_pb2_grpc

ISTIOD_SERVER_NAME = "istiod.istio-system.svc"  # a SAN of istiod's serving certificate
TOKEN_AUDIENCE = "istio-ca"
ROOT_CONFIGMAP = ("istio-system", "istio-ca-root-cert")
_OPENSSL_TIMEOUT_S = 30


class CAUnavailable(PeerError, Transient):
    """istiod's secure gRPC address cannot be reached (or its TLS does not verify)."""


@dataclass(frozen=True)
class Workload:
    namespace: str
    service_account: str
    trust_domain: str = "cluster.local"

    def __post_init__(self) -> None:
        for attr in ("namespace", "service_account", "trust_domain"):
            value = getattr(self, attr)
            if not value or "/" in value:
                raise ValueError(f"Workload {attr} {value!r} must be non-empty and contain no '/'")

    @property
    def spiffe_id(self) -> str:
        return f"spiffe://{self.trust_domain}/ns/{self.namespace}/sa/{self.service_account}"


@dataclass(frozen=True)
class IssuedCertificate:
    chain: tuple[str, ...]   # PEMs as istiod returned them: leaf first, then intermediates and root
    key_pem: str             # the probe's own key; never logged

    def __repr__(self) -> str:  # keep the key out of assertion messages and logs
        return f"IssuedCertificate(chain={len(self.chain)} PEMs, key=<redacted>)"

    @property
    def leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.chain[0].encode())

    @property
    def uris(self) -> list[str]:
        """The leaf's URI SANs (the SPIFFE identity istiod signed)."""
        try:
            ext = self.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return ext.value.get_values_for_type(x509.UniformResourceIdentifier)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    output: str


def csr_for(workload: Workload) -> tuple[str, str]:
    """A fresh P-256 key and a CSR with the workload's SPIFFE URI SAN: ``(csr_pem, key_pem)``."""
    key = generate_key("ecdsa-p256")
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, workload.trust_domain)]))
           .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(workload.spiffe_id)]),
                          critical=False)
           .sign(key, hashes.SHA256()))
    key_pem = private_key_pem(key).decode()
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def create_certificate(secure_address: str, root_pem: str, token: str, cluster_id: str,
                       workload: Workload, *, ttl_s: int = 3600, timeout: float = 10.0,
                       server_name: str = ISTIOD_SERVER_NAME) -> IssuedCertificate:
    """Ask istiod's CA to sign a CSR for ``workload``, authenticated by ``token``.

    Raises ``AuthError`` when istiod refuses the caller, ``CAUnavailable`` when
    it cannot be reached, ``PeerError`` for any other failure.
    """
    if not root_pem.strip().startswith("-----BEGIN CERTIFICATE-----"):
        raise ValueError("root_pem must be a PEM certificate (istiod's published root)")
    csr_pem, key_pem = csr_for(workload)
    credentials = grpc.ssl_channel_credentials(root_certificates=root_pem.encode())
    options = [("grpc.ssl_target_name_override", server_name), ("grpc.default_authority", server_name)]
    metadata = [("clusterid", cluster_id)]
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    request = ca_pb2.IstioCertificateRequest(csr=csr_pem, validity_duration=ttl_s)
    with grpc.secure_channel(secure_address, credentials, options=options) as channel:
        stub = ca_pb2_grpc.IstioCertificateServiceStub(channel)
        try:
            response = stub.CreateCertificate(request, metadata=metadata, timeout=timeout)
        except grpc.RpcError as exc:
            raise _translate(exc, secure_address) from exc
    if not response.cert_chain:
        raise PeerError(f"istiod at {secure_address} answered CreateCertificate with an empty chain")
    return IssuedCertificate(tuple(response.cert_chain), key_pem)


def _translate(exc: grpc.RpcError, address: str) -> PeerError | AuthError:
    code, details = exc.code(), exc.details()
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return AuthError(f"istiod at {address} refused the certificate request ({code.name}): {details}")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return CAUnavailable(f"istiod's CA at {address} is unavailable ({code.name}): {details}")
    return PeerError(f"istiod at {address} failed CreateCertificate ({code.name}): {details}")


def verify_chain(chain: tuple[str, ...] | list[str], root_pem: str) -> Verdict:
    """``openssl verify -CAfile root -untrusted <the rest of the chain> leaf``."""
    if not chain:
        raise ValueError("verify_chain needs at least the leaf certificate")
    with tempfile.TemporaryDirectory(prefix="ca-probe-") as tmp:
        root, leaf, rest = Path(tmp) / "root.pem", Path(tmp) / "leaf.pem", Path(tmp) / "untrusted.pem"
        root.write_text(root_pem)
        leaf.write_text(chain[0])
        cmd = ["openssl", "verify", "-CAfile", str(root)]
        if len(chain) > 1:
            rest.write_text("".join(p if p.endswith("\n") else p + "\n" for p in chain[1:]))
            cmd += ["-untrusted", str(rest)]
        try:
            proc = subprocess.run([*cmd, str(leaf)], capture_output=True, text=True, timeout=_OPENSSL_TIMEOUT_S)
        except FileNotFoundError as exc:
            raise PeerError("openssl is not on PATH: install it (Debian: apt-get install openssl)") from exc
    output = (proc.stdout + proc.stderr).replace(tmp, "").strip()
    return Verdict(proc.returncode == 0, output)


def request_token(kubectl: Callable[..., str], namespace: str, service_account: str, *,
                  audience: str = TOKEN_AUDIENCE, duration_s: int = 600) -> str:
    """A TokenRequest token for a ServiceAccount, through ``kubectl create token``.

    ``kubectl`` is a member cluster's runner (``MemberCluster.kubectl``); the
    ServiceAccount must exist.
    """
    token = kubectl("create", "token", service_account, "-n", namespace,
                    f"--audience={audience}", f"--duration={duration_s}s").strip()
    if token.count(".") != 2:
        raise PeerError(f"TokenRequest for {namespace}/{service_account} returned no JWT")
    return token


def published_root(kubectl: Callable[..., str], namespace: str = ROOT_CONFIGMAP[0]) -> str:
    """The root istiod publishes in ``<namespace>/istio-ca-root-cert`` (``root-cert.pem``)."""
    raw = kubectl("get", "configmap", ROOT_CONFIGMAP[1], "-n", namespace, "-o", "json")
    root = json.loads(raw).get("data", {}).get("root-cert.pem", "")
    if "BEGIN CERTIFICATE" not in root:
        raise PeerError(f"ConfigMap {namespace}/{ROOT_CONFIGMAP[1]} has no root-cert.pem")
    return root
