"""Serving a hub locally: the credentials a demo or a test needs, and the hub.

``prepare_workdir`` makes the local credentials (API TLS, an admin token, a
KEK) and ``write_hub_env`` the ``hub.env`` the CLI reads; ``HubService``, what
``federation serve`` and the demo (``kubesim.demo``) start, is built by the
hub's composition root (``federation.hub.service``) and only named here.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from federation.api.tls import issue_server_cert, make_self_signed_ca, write_pem, write_pem_files
from federation.hub.service import HubService, build
from federation.trust.sealing import ensure_kek_file

__all__ = ["HubService", "Workdir", "build", "prepare_workdir", "write_hub_env"]


@dataclass(frozen=True)
class Workdir:
    """Local credentials for a hub: API TLS, an admin token, a KEK, and hub.env."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "tls" / "ca.crt"

    @property
    def cert(self) -> Path:
        return self.root / "tls" / "hub.crt"

    @property
    def key(self) -> Path:
        return self.root / "tls" / "hub.key"

    @property
    def token(self) -> Path:
        return self.root / "admin-token"

    @property
    def kek(self) -> Path:
        return self.root / "kek"

    @property
    def env(self) -> Path:
        return self.root / "hub.env"


def prepare_workdir(root: str | os.PathLike, hosts: list[str]) -> Workdir:
    """Create (once) the API's TLS material, an admin token and a KEK under ``root``."""
    wd = Workdir(Path(root))
    (wd.root / "tls").mkdir(parents=True, exist_ok=True)
    if not (wd.cert.exists() and wd.key.exists() and wd.ca.exists()):
        ca = make_self_signed_ca()
        write_pem(wd.ca, ca.cert_pem)
        write_pem_files(wd.root / "tls", "hub", issue_server_cert(ca, hosts))
    if not wd.token.exists():
        wd.token.touch(mode=0o600)
        wd.token.write_text(secrets.token_urlsafe(32) + "\n")
    ensure_kek_file(wd.kek)
    return wd


def write_hub_env(wd: Workdir, address: str, listeners: dict[str, str] | None = None) -> Path:
    """``. hub.env`` lets the CLI reach this hub from another terminal;
    ``listeners`` adds the other addresses (variable name → HOST:PORT)."""
    wd.env.write_text(
        f"export FEDERATION_HUB={address}\n"
        f"export FEDERATION_CA={wd.ca.resolve()}\n"
        f"export FEDERATION_TOKEN_FILE={wd.token.resolve()}\n"
        + "".join(f"export {name}={value}\n" for name, value in (listeners or {}).items())
    )
    wd.env.chmod(0o600)
    return wd.env
