"""A tiny real HTTPS server answering the Kubernetes routes that issuing a member token uses.

It serves service accounts, the TokenRequest subresource, token Secrets (with a
token controller that fills a Secret on its second read) and one authenticated
route, ``GET /api/v1/namespaces``, that answers only the token it issued: a
kubeconfig produced against it can be proven to work by calling it.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ADMIN_TOKEN = "operator-admin-token"
ISSUED_TOKEN = "issued-bound-token"
SECRET_TOKEN = "issued-secret-token"


@dataclass
class ServerState:
    """What the server holds and how it behaves; tests set it before a call."""

    service_accounts: set[tuple[str, str]] = field(default_factory=set)
    token_request: str = "ok"  # ok | unsupported | forbidden | unavailable
    secrets: dict[tuple[str, str], dict] = field(default_factory=dict)
    secret_reads: dict[tuple[str, str], int] = field(default_factory=dict)
    requests: list[tuple[str, str, dict | None]] = field(default_factory=list)


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """Write a CA and a server certificate for 127.0.0.1; return (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-cluster-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (directory / "ca.crt", directory / "tls.crt", directory / "tls.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


_SA = re.compile(r"^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)(/token)?$")
_SECRETS = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets(?:/([^/]+))?$")


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"
    timeout = 1  # idle keep-alive connections end quickly, so no server thread outlives a test

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._reply(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": reason, "message": message, "code": code})

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        path = self.path.split("?", 1)[0]
        state = self.server.state
        with self.server.lock:
            state.requests.append((method, self.path, body))
        auth = self.headers.get("Authorization", "")
        if path == "/api/v1/namespaces" and method == "GET":
            if auth in (f"Bearer {ISSUED_TOKEN}", f"Bearer {SECRET_TOKEN}"):
                return self._reply(200, {"kind": "NamespaceList", "apiVersion": "v1",
                                         "metadata": {}, "items": []})
            return self._status(401, "Unauthorized", "Unauthorized")
        if auth != f"Bearer {ADMIN_TOKEN}":
            return self._status(401, "Unauthorized", "Unauthorized")
        with self.server.lock:
            if match := _SA.match(path):
                return self._service_account(method, match.group(1), match.group(2), bool(match.group(3)))
            if match := _SECRETS.match(path):
                return self._secret(method, match.group(1), match.group(2), body)
        self._status(404, "NotFound", f"the server could not find the requested resource ({path})")

    def _service_account(self, method: str, ns: str, name: str, token: bool) -> None:
        state = self.server.state
        if (ns, name) not in state.service_accounts:
            return self._status(404, "NotFound", f'serviceaccounts "{name}" not found')
        if not token and method == "GET":
            return self._reply(200, {"kind": "ServiceAccount", "apiVersion": "v1",
                                     "metadata": {"name": name, "namespace": ns}})
        if token and method == "POST":
            if state.token_request == "unsupported":
                return self._status(404, "NotFound", "the server could not find the requested resource")
            if state.token_request == "unavailable":
                return self._status(503, "ServiceUnavailable", "etcdserver: request timed out")
            if state.token_request == "forbidden":
                return self._status(403, "Forbidden", f'cannot create resource "serviceaccounts/token" '
                                                      f'in the namespace "{ns}"')
            return self._reply(201, {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                                     "metadata": {"name": name, "namespace": ns},
                                     "spec": {"audiences": [], "expirationSeconds": 3600},
                                     "status": {"token": ISSUED_TOKEN,
                                                "expirationTimestamp": "2030-01-01T00:00:00Z"}})
        self._status(405, "MethodNotAllowed", "method not allowed")

    def _secret(self, method: str, ns: str, name: str | None, body: dict | None) -> None:
        state = self.server.state
        if name is None and method == "GET":
            items = [s for (sns, _), s in sorted(state.secrets.items()) if sns == ns]
            return self._reply(200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {},
                                     "items": items})
        if name is None and method == "POST":
            meta = body["metadata"]
            key = (ns, meta["name"])
            if key in state.secrets:
                return self._status(409, "AlreadyExists", f'secrets "{meta["name"]}" already exists')
            state.secrets[key] = {"kind": "Secret", "apiVersion": "v1", "type": body.get("type"),
                                  "metadata": {**meta, "namespace": ns}, "data": {}}
            return self._reply(201, state.secrets[key])
        if name is not None and method == "GET":
            key = (ns, name)
            if key not in state.secrets:
                return self._status(404, "NotFound", f'secrets "{name}" not found')
            state.secret_reads[key] = state.secret_reads.get(key, 0) + 1
            secret = state.secrets[key]
            # The token controller "runs" between the first and second read.
            if state.secret_reads[key] >= 2 and secret["type"] == "kubernetes.io/service-account-token":
                secret["data"] = {"token": base64.b64encode(SECRET_TOKEN.encode()).decode()}
            return self._reply(200, secret)
        self._status(405, "MethodNotAllowed", "method not allowed")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True

    def __init__(self, address, state: ServerState):
        super().__init__(address, _Handler)
        self.state = state
        self.lock = threading.Lock()


class TokenServer:
    """Runs the server on 127.0.0.1 with TLS in one thread; use as a context manager."""

    def __init__(self, directory: Path):
        self.ca_path, cert, key = make_tls(directory)
        self.state = ServerState()
        self._server = _Server(("127.0.0.1", 0), self.state)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="token-server", daemon=True)

    def __enter__(self) -> "TokenServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
