"""``python -m kubesim.demo`` (``make demo``): the hub, three simulated member clusters, and a live view.

Topology: cluster-1 and cluster-2 on network ``net-east`` in region ``us-east``
(two zones), cluster-3 on ``net-west`` in ``eu-west``. Services in namespace
``bookinfo``: ``reviews`` in every cluster, ``details`` in two, ``ratings`` in one.
Registration labels: ``env=prod`` on cluster-1 and cluster-2, ``env=staging`` on
cluster-3 (what the README's import-selector example selects on).
Every log line goes to ``DIR/demo.log`` from the start (and to stderr until the
live view owns the terminal); ``DIR/hub.env`` exports every listener's address.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from federation import errors
from federation.api.client import AdminClient
from federation.cli import format_services, format_status, listener_env, run_command, wait_for_signal
from federation.serving import HubService, prepare_workdir, write_hub_env
from federation.settings import HubSettings
from kubesim.cli import default_schemas_dir
from kubesim.fleet import SimFleet
from kubesim.workloads import seed_cluster
from federation.trust.client import TrustClient

log = logging.getLogger(__name__)

NAMESPACE = "bookinfo"
TOPOLOGY = (
    # name, network, region, zones, services
    ("cluster-1", "net-east", "us-east", ["us-east-1a"], ["reviews", "details", "ratings"]),
    ("cluster-2", "net-east", "us-east", ["us-east-1b"], ["reviews"]),
    ("cluster-3", "net-west", "eu-west", ["eu-west-1a"], ["reviews", "details"]),
)
LABELS = {"cluster-1": {"env": "prod"}, "cluster-2": {"env": "prod"}, "cluster-3": {"env": "staging"}}
SYNC_TIMEOUT = 60.0


def start_fleet(workdir: Path) -> SimFleet:
    schemas = default_schemas_dir()
    fleet = SimFleet(len(TOPOLOGY), workdir, schemas_dir=schemas)

    def seed(f: SimFleet) -> None:
        for (name, network, region, zones, services), sim in zip(TOPOLOGY, f):
            seed_cluster(sim, network=network, region=region, zones=zones, services=services,
                         namespace_name=NAMESPACE, endpoints_per_service=3, ports=(("http", 9080),))

    return fleet.start(before_ready=seed)


def wait_synced(client: AdminClient, clusters: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.status()
        if len(status.clusters) == clusters and all(c.synced for c in status.clusters):
            return True
        time.sleep(0.2)
    return False


def header(addresses: dict[str, str]) -> str:
    """The live view's first lines: where each listener is and how to reach it."""
    return "\n".join(f"  {name:<30} {value}" for name, value in addresses.items())


def draw(client: AdminClient, addresses: dict[str, str], out=sys.stdout) -> None:
    try:
        text = format_status(client.status()) + "\n\n" + format_services(client.list_services())
    except errors.FederationError as exc:
        text = f"hub unavailable: {exc}"
    out.write("\x1b[H\x1b[2J" + time.strftime("%H:%M:%S") + "  mesh-federation demo (Ctrl-C to stop)\n"
              + header(addresses) + "\n\n" + text + "\n")
    out.flush()


def run_demo(args) -> int:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    log_file = _log_to(workdir / "demo.log")
    shutil.rmtree(workdir / "kubeconfigs", ignore_errors=True)
    (workdir / "ready").unlink(missing_ok=True)
    wd = prepare_workdir(workdir, hosts=["127.0.0.1", "localhost"])
    settings = HubSettings(
        store_url=args.etcd or "memory://", listen="127.0.0.1:0", metrics_listen="127.0.0.1:0",
        tls_cert=str(wd.cert), tls_key=str(wd.key), admin_token_file=str(wd.token),
        kek_file=str(wd.kek), onboarding_listen="127.0.0.1:0", initial_sync_timeout=10.0,
    )
    fleet = start_fleet(workdir / "sim")
    service = None
    client = None
    try:
        service = HubService(settings)
        service.start()
        others = listener_env(service)
        listeners = {"FEDERATION_HUB": service.api.address, **others}
        env = write_hub_env(wd, service.api.address, others)
        client = AdminClient(service.api.address, ca_file=str(wd.ca),
                             token=wd.token.read_text().strip())
        kubeconfigs = workdir / "kubeconfigs"
        kubeconfigs.mkdir(parents=True, exist_ok=True)
        for sim in fleet:
            text = fleet.kubeconfig_path(sim.name).read_text()
            path = kubeconfigs / f"{sim.name}.yaml"
            path.touch(mode=0o600)  # it holds the cluster's token
            path.chmod(0o600)
            path.write_text(text)
            client.register_cluster(sim.name, text, labels=LABELS.get(sim.name))
            log.info("registered cluster", extra={"fields": {"cluster": sim.name, "server": sim.url}})
        trust = TrustClient(service.api.address, ca_file=str(wd.ca), token=wd.token.read_text().strip())
        try:
            trust.init_root()  # every cluster gets its cacerts from one mesh root
        except errors.AlreadyExists:
            pass  # a demo on an existing etcd keeps its root
        finally:
            trust.close()
        if not wait_synced(client, len(TOPOLOGY), SYNC_TIMEOUT):
            log.error("clusters did not sync in time", extra={"fields": {"seconds": SYNC_TIMEOUT}})
            return 1
        (workdir / "ready").write_text(service.api.address + "\n")
        log.info("demo ready", extra={"fields": {
            "hub_env": str(env), **{k.lower(): v for k, v in listeners.items()},
            "try": f". {env}; federation services"}})
        stop = threading.Event()
        if args.no_view or not sys.stdout.isatty():
            wait_for_signal(stop)
        else:
            log.info("live view on; logs continue in demo.log", extra={"fields": {"file": str(workdir / "demo.log")}})
            logging.getLogger().handlers[:] = [log_file]
            viewer = threading.Thread(target=_view_loop, args=(client, listeners, stop), daemon=True)
            viewer.start()
            wait_for_signal(stop)
            viewer.join(2.0)
        return 0
    finally:
        if client is not None:
            client.close()
        if service is not None:
            service.stop()
        fleet.stop()
        (workdir / "ready").unlink(missing_ok=True)
        logging.getLogger().removeHandler(log_file)
        log_file.close()


def _log_to(path: Path) -> logging.Handler:
    """Log lines go to ``path`` too (only there once the live view owns the terminal)."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(root.handlers[0].formatter if root.handlers else None)
    root.addHandler(handler)
    return handler


def _view_loop(client: AdminClient, addresses: dict[str, str], stop: threading.Event) -> None:
    while not stop.is_set():
        draw(client, addresses)
        stop.wait(1.0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kubesim.demo",
                                     description="Run the hub with three simulated clusters and a live view.")
    parser.add_argument("--workdir", default=".demo", help="where kubeconfigs, hub.env and ready go (default .demo)")
    parser.add_argument("--etcd", default="", help="etcd URL (default: the in-memory store)")
    parser.add_argument("--no-view", action="store_true", help="log instead of drawing the live view")
    parser.add_argument("--log-level", default=os.environ.get("FEDERATION_LOG_LEVEL", "info"),
                        choices=["debug", "info", "warning", "error"], help="log level (default info)")
    parser.add_argument("--log-format", default=os.environ.get("FEDERATION_LOG_FORMAT", "kv"), choices=["kv", "json"],
                        help="log line format: key=value (default) or json")
    parser.set_defaults(func=run_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
