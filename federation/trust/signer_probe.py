"""Which intermediate a member's istiod signs with, read from the certificate it serves.

istiod's TLS port (15012: xDS and its CA) serves a certificate that istiod's own
CA issued (``updateRootCertAndGenKeyCert`` in Istio's pilot bootstrap reissues
it whenever istiod reloads ``cacerts``), so the certificate's issuer is the
intermediate the CA signs workloads with at that moment. The handshake needs
no credentials; the certificate is not trusted as such, only checked to have
been signed with the key of the intermediate a rotation step expects, which
nobody without that key can forge.
"""

from __future__ import annotations

import socket
import ssl

from federation import errors
from federation.model.ids import split_host_port

ISTIOD_NAME = "istiod.istio-system.svc"  # SNI: what a gateway's istiod passthrough route matches
PROBE_TIMEOUT = 5.0


def check_address(address: str) -> str:
    """A registered istiod address, normalised; ConfigError naming what is wrong."""
    address = address.strip()
    if address:
        split_host_port(address, "istiod address")
    return address


def served_certificate(address: str, timeout: float = PROBE_TIMEOUT) -> bytes:
    """The DER certificate istiod serves at ``address`` (HOST:PORT); ClusterUnreachable
    naming the address and the cause when no TLS handshake completes."""
    host, port = split_host_port(address, "istiod address")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read, not trusted: judged by its signature
    context.set_alpn_protocols(["h2"])
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=ISTIOD_NAME) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise errors.ClusterUnreachable(
            f"istiod at {address} did not complete a TLS handshake: {exc.__class__.__name__}: {exc}") from exc
    if not der:
        raise errors.ClusterUnreachable(f"istiod at {address} served no certificate")
    return der
