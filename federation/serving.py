"""Running a hub: store, key-encryption key, telemetry, the hub and its APIs.

``HubService`` is what ``federation serve`` and the demo (``kubesim.demo``) start;
``prepare_workdir`` makes the local credentials a demo or a test needs.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from federation import errors
from federation.api.server import ApiServer
from federation.api.tls import (
    ServerTLS, issue_server_cert, make_self_signed_ca, write_pem, write_pem_files,
)
from federation.hub.app import Hub
from federation.hub.control import HubControl
from federation.settings import HubSettings
from federation.store import open_store
from federation.telemetry import Telemetry
from federation.trust.sealing import ensure_kek_file, load_kek

log = logging.getLogger(__name__)


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


EXTENSIONS = ("federation.trust.wiring", "federation.onboarding.wiring", "federation.check.wiring",
              "federation.telemetry.wiring")


def install_extensions(service: "HubService") -> None:
    """Features beside the pipeline (trust, VM onboarding) plug in here: each
    module's ``install(service)`` may add gRPC services to ``service.api`` and
    objects with start()/stop() to ``service.extensions``."""
    import importlib

    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
                raise  # a missing feature is skipped; a broken one is an error
            continue
        module.install(service)


class HubService:
    """A hub with its admin API and metrics endpoint, started and stopped as one."""

    def __init__(self, settings: HubSettings, store=None):
        settings.validate()
        if not settings.tls_cert or not settings.tls_key:
            raise errors.ConfigError("the admin API serves TLS only: --tls-cert and --tls-key are required")
        if not settings.admin_token_file:
            raise errors.ConfigError("the admin API is authenticated: --admin-token-file is required")
        self.settings = settings
        self._own_store = store is None
        self.store = store or open_store(settings.store_url or None, prefix=settings.store_prefix)
        self.kek = self._kek()
        self.telemetry = Telemetry(otlp_endpoint=settings.otlp_endpoint, otlp_ca_file=settings.otlp_ca_file)
        self.hub = Hub(settings, self.store, self.kek, self.telemetry)
        self.control = HubControl(self.hub)
        self.api = ApiServer(settings.listen, self.control,
                             ServerTLS.from_files(settings.tls_cert, settings.tls_key),
                             settings.admin_token_file,
                             health_address=settings.health_listen or None, tracer=self.telemetry.tracer)
        self.extensions: list = []  # started after the hub, stopped before it
        self.metrics_port = 0
        install_extensions(self)

    def _kek(self) -> bytes:
        if self.settings.kek_file:
            return load_kek(self.settings.kek_file)
        try:
            return load_kek(None)
        except errors.ConfigError:
            if self.settings.store_url.startswith("memory") or not self.settings.store_url:
                # Nothing outlives the process with the memory store: an ephemeral key is enough.
                return secrets.token_bytes(32)
            raise

    def start(self) -> None:
        self.hub.start()
        for ext in self.extensions:
            ext.start()
        self.api.start()
        if self.settings.metrics_listen:
            self.metrics_port = self.telemetry.serve(self.settings.metrics_listen)
        log.info("hub serving", extra={"fields": {
            "admin": self.api.address, "store": self.settings.store_url.split("@")[-1],
            "metrics": self.settings.metrics_listen or "off"}})

    def stop(self) -> None:
        self.api.stop(2.0)
        for ext in reversed(self.extensions):
            ext.stop()
        self.hub.stop()
        self.telemetry.shutdown()
        if self._own_store:
            self.store.close()
