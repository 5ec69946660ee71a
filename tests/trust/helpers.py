"""Helpers of the trust tests: a settable clock, CSRs, store snapshots, and
``openssl verify`` on PEM text."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation.trust import certificates as certs, workload

OPENSSL_TIMEOUT = 20.0
START = 1_800_000_000.0  # a fixed "now" (2027-01-15) so tests never depend on the wall clock


class Clock:
    """A settable clock handed to TrustAuthority (its ``clock`` parameter)."""

    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def store_snapshot(store) -> tuple:
    """Every key with its raw value and revisions, plus the store revision."""
    kvs, revision = store.range("")
    return tuple((kv.key, kv.value, kv.create_revision, kv.mod_revision) for kv in kvs), revision


def make_csr(key=None, uris: tuple[str, ...] = (), dns: tuple[str, ...] = (),
             common_name: str | None = None) -> tuple[bytes, object]:
    """A PEM CSR (and its key) asking for the given SANs."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    names = [x509.UniformResourceIdentifier(u) for u in uris] + [x509.DNSName(d) for d in dns]
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
        if common_name else x509.Name([]))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), key


class OpenSSL:
    """Runs ``openssl verify`` on PEM text in a private temp directory."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("openssl")
        self.workdir = workdir
        self._n = 0

    def _file(self, text: str) -> str:
        self._n += 1
        path = self.workdir / f"f{self._n}.pem"
        path.write_text(text)
        return str(path)

    def verify(self, cafile: str, cert: str, untrusted: str | None = None,
               at: float | None = None) -> subprocess.CompletedProcess:
        cmd = [self.binary, "verify", "-x509_strict", "-CAfile", self._file(cafile)]
        if untrusted:
            cmd += ["-untrusted", self._file(untrusted)]
        if at is not None:
            cmd += ["-attime", str(int(at))]
        cmd.append(self._file(cert))
        return subprocess.run(cmd, capture_output=True, text=True, timeout=OPENSSL_TIMEOUT)

    def verifies(self, cafile: str, cert: str, untrusted: str | None = None,
                 at: float | None = None) -> bool:
        result = self.verify(cafile, cert, untrusted, at)
        ok = result.returncode == 0 and result.stdout.strip().endswith(": OK")
        return ok

    def text(self, cert: str) -> str:
        return subprocess.run([self.binary, "x509", "-noout", "-text", "-in", self._file(cert)],
                              capture_output=True, text=True, timeout=OPENSSL_TIMEOUT,
                              check=True).stdout


def leaf_under(ca_cert_pem: str, ca_key_pem: str, now: float,
               identity: str = "spiffe://cluster.local/ns/default/sa/web") -> str:
    """A workload certificate signed with a cluster's own cacerts key, as istiod would."""
    issuer = certs.CertifiedKey(certs.load_certificate(ca_cert_pem),
                                certs.load_private_key(ca_key_pem))
    csr_pem, _ = make_csr()
    csr = workload.check_csr(csr_pem, identity)
    return certs.certificate_pem(workload.issue_leaf(csr, issuer, identity, now=now))
