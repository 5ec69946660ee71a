"""``python -m kubesim``: run a fleet of simulated member clusters until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from federation.errors import FederationError
from kubesim.fleet import MAX_CLUSTERS, SimFleet
from kubesim.schemas import load_crd_schemas
from kubesim.workloads import seed_cluster

log = logging.getLogger(__name__)


def default_schemas_dir() -> Path | None:
    """``../shared`` next to the current directory, else next to the repository root."""
    repo_root = Path(__file__).resolve().parents[1]
    for candidate in (Path.cwd().parent / "shared", repo_root.parent / "shared"):
        if candidate.is_dir():
            return candidate
    return None


def _seed(fleet: SimFleet, services: int) -> None:
    """Give each cluster its own network, a region shared by pairs of clusters, and two zones."""
    for index, cluster in enumerate(fleet, start=1):
        seed_cluster(cluster, network=f"network-{index}", region=f"region-{(index + 1) // 2}",
                     zones=[f"zone-{index}a", f"zone-{index}b"], services=services)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clusters", type=int, default=3, help=f"how many clusters (1..{MAX_CLUSTERS})")
    parser.add_argument("--workdir", required=True, help="where kubeconfigs/ and the ready file are written")
    parser.add_argument("--crd-schemas", default=None,
                        help="directory with the CRD files (default: ../shared when it exists)")
    parser.add_argument("--port", type=int, default=0, help="port for every cluster (default: any free port)")
    parser.add_argument("--services", type=int, default=0,
                        help="seed each cluster with this many services (and nodes, istio-system, gateway)")
    parser.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch bookmarks")
    parser.add_argument("--history", type=int, default=1000, help="watch events kept per resource type")


def run(args: argparse.Namespace) -> int:
    """Start the fleet, wait for SIGTERM/SIGINT, stop it; 0 on a clean stop."""
    schemas_dir = Path(args.crd_schemas) if args.crd_schemas else default_schemas_dir()
    try:
        schemas = load_crd_schemas(schemas_dir) if schemas_dir else None
        if schemas is None:
            log.warning("no CRD schemas found: custom kinds are served without validation")
        fleet = SimFleet(args.clusters, args.workdir, schemas=schemas, port=args.port,
                         bookmark_interval=args.bookmark_interval, history=args.history)
    except FederationError as exc:
        log.error("cannot set up the simulated clusters", extra={"fields": {"error": str(exc)}})
        return 2
    stopping = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals can only be caught there
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stopping.set())
    try:
        fleet.start(before_ready=lambda f: _seed(f, args.services) if args.services else None)
        for cluster in fleet:
            log.info("sim cluster serving", extra={"fields": {"cluster": cluster.name, "url": cluster.url}})
        while not stopping.wait(1.0):
            pass
    except FederationError as exc:
        log.error("simulated clusters failed", extra={"fields": {"error": str(exc)}})
        return 1
    finally:
        clean = fleet.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        log.info("sim fleet stopped", extra={"fields": {"clean": clean}})
    return 0
