"""A command line over the launcher and the probes, for shell scripts (``python -m peers``).

``up`` starts a real fleet (``peers.fleet.RealFleet``), writes one admin
kubeconfig per cluster and a ready file (JSON: every cluster's kubeconfig,
network, locality, east-west gateway, and the address of a small control
endpoint), then runs until SIGTERM or SIGINT and stops everything it started.
Workloads and istiods live in that process (the launcher keeps their state),
so ``deploy``, ``scale``, ``set-ready``, ``istiod start`` and ``rss`` are sent
to it as JSON over HTTP on loopback. ``xds`` and ``ca-verify`` run the probes
(``peers.xds``, ``peers.ca``) in the calling process and print plain JSON.

    python -m peers up --workdir W --topology cluster-1:net1:us-east:us-east-1a,us-east-1b
    python -m peers deploy --workdir W --cluster cluster-1 --namespace sample --name hello \\
        --port http:5000 --pods 3 --ready 2
    python -m peers istiod start cluster-1 --workdir W
    python -m peers xds endpoints --workdir W --cluster cluster-1 --namespace sample \\
        --host hello.sample.svc.cluster.local --port 5000

Exit status: 0 done, 1 a peer or probe failed (the message says which), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Callable

from peers.errors import PeerError

READY_FILE = "ready"
CONTROL_TIMEOUT = 300.0  # an istiod start waits for its first push on 2 cores
STOP_POLL = 0.5
KUBECTL = "/usr/bin/kubectl"


class UsageError(PeerError):
    """An argument of ``python -m peers`` is malformed."""


# -- topology -------------------------------------------------------------------
def parse_member(text: str):
    """``NAME:NETWORK:REGION:ZONE[,ZONE...]`` as a ``MemberSpec``."""
    from peers.fleet import MemberSpec

    parts = text.split(":")
    if len(parts) != 4 or not all(parts):
        raise UsageError(f"--topology {text!r}: expected NAME:NETWORK:REGION:ZONE[,ZONE...]")
    zones = tuple(z for z in parts[3].split(",") if z)
    if not zones:
        raise UsageError(f"--topology {text!r}: at least one zone is needed")
    return MemberSpec(parts[0], parts[1], parts[2], zones)


def parse_port(text: str) -> tuple[str, int] | tuple[str, int, int]:
    """``NAME:PORT`` or ``NAME:PORT:TARGET`` (a Service port)."""
    parts = text.split(":")
    try:
        if len(parts) in (2, 3) and parts[0]:
            return (parts[0], *map(int, parts[1:]))  # type: ignore[return-value]
    except ValueError:
        pass
    raise UsageError(f"--port {text!r}: expected NAME:PORT or NAME:PORT:TARGET_PORT")


def pod_plan(zones: list[str], count: int, ready: int, zone: str | None) -> list[tuple[str, bool]]:
    """``count`` pods, the first ``ready`` of them ready, in ``zone`` or round-robin over ``zones``."""
    if count < 0 or not 0 <= ready <= count:
        raise UsageError(f"--pods {count} --ready {ready}: need 0 <= ready <= pods")
    if zone is not None and zone not in zones:
        raise UsageError(f"--zone {zone!r}: the cluster's zones are {zones}")
    return [(zone or zones[i % len(zones)], i < ready) for i in range(count)]


# -- the running fleet (inside ``up``) ----------------------------------------------
class FleetControl:
    """What the control endpoint can do to the fleet; one request at a time."""

    def __init__(self, fleet):
        self.fleet = fleet
        self._lock = threading.Lock()

    def call(self, request: dict) -> Any:
        op = request.get("op")
        handler: Callable[[dict], Any] | None = getattr(self, "op_" + str(op).replace("-", "_"), None)
        if handler is None:
            raise UsageError(f"unknown operation {op!r}")
        with self._lock:
            return handler(request)

    def _member(self, request: dict):
        name = request.get("cluster")
        if name not in self.fleet.members:
            raise UsageError(f"no cluster {name!r} in this fleet ({sorted(self.fleet.members)})")
        return self.fleet.members[name]

    def op_deploy(self, r: dict) -> dict:
        m = self._member(r)
        w = m.deploy(r["namespace"], r["name"], ports=[tuple(p) for p in r["ports"]],
                     pods=pod_plan(m.zones, r["pods"], r["ready"], r.get("zone")),
                     service_account=r.get("service_account"))
        return workload_state(w)

    def op_scale(self, r: dict) -> dict:
        m = self._member(r)
        return workload_state(m.scale(r["namespace"], r["name"],
                                      pod_plan(m.zones, r["pods"], r["ready"], r.get("zone"))))

    def op_set_ready(self, r: dict) -> dict:
        m = self._member(r)
        m.set_ready(r["namespace"], r["name"], int(r["index"]), bool(r["ready"]))
        return workload_state(m.workload(r["namespace"], r["name"]))

    def op_istiod_start(self, r: dict) -> dict:
        names = r.get("cluster")
        names = [self._member({"cluster": n}).name for n in (names if isinstance(names, list) else [names])]
        started = self.fleet.start_istiods(wait_for_cacerts=True, names=names,
                                           timeout=float(r.get("timeout", 180)))
        return {name: istiod_state(started[name]) for name in names}

    def op_state(self, r: dict) -> dict:
        return fleet_state(self.fleet)

    def op_rss(self, r: dict) -> dict:
        out: dict = {}
        for name, server in self.fleet.apiservers.items():
            out.setdefault(name, {})["kube-apiserver"] = server.rss()
        for name, istiod in self.fleet.istiods.items():
            out.setdefault(name, {})["istiod"] = istiod.rss()
        return out


def workload_state(w) -> dict:
    return {"namespace": w.namespace, "name": w.name, "service_account": w.service_account,
            "pods": [{"name": p.name, "zone": p.zone, "ip": p.ip, "ready": p.ready} for p in w.pods]}


def istiod_state(istiod) -> dict:
    return {"xds": istiod.xds_address, "secure": istiod.secure_address, "debug": istiod.debug_url,
            "pid": istiod.pid, "plugged_in": istiod.plugged_in, "log": str(istiod.log_path)}


def fleet_state(fleet) -> dict:
    clusters = {}
    for name, m in fleet.members.items():
        gateway_pod = m.gateway.pods[0] if m.gateway and m.gateway.pods else None
        clusters[name] = {
            "kubeconfig": str(fleet.workdir / "kubeconfigs" / f"{name}.yaml"),
            "server": m.apiserver.server, "network": m.network, "region": m.region, "zones": m.zones,
            "nodes": {z: m.node_name(z) for z in m.zones},
            "gateway": {"address": m.gateway_address, "hostname": m.gateway_hostname,
                        "pod": gateway_pod.name if gateway_pod else None,
                        "ip": gateway_pod.ip if gateway_pod else None,
                        "zone": gateway_pod.zone if gateway_pod else None},
            "istiod": istiod_state(fleet.istiods[name]) if name in fleet.istiods else None,
        }
    return {"etcd": fleet.etcd_url, "clusters": clusters}


def _handler(control: FleetControl):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, answer = 200, {"result": control.call(body)}
            except UsageError as exc:
                status, answer = 400, {"error": str(exc)}
            except (KeyError, TypeError, ValueError) as exc:
                status, answer = 400, {"error": f"bad request: {type(exc).__name__}: {exc}"}
            except Exception as exc:  # noqa: BLE001 - the caller gets the reason, the fleet keeps running
                status, answer = 500, {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args) -> None:
            sys.stderr.write("control: " + (fmt % args) + "\n")

    return Handler


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def cmd_up(args) -> int:
    from peers.fleet import RealFleet

    workdir = Path(args.workdir).resolve()
    specs = [parse_member(t) for t in args.topology]
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    (workdir / READY_FILE).unlink(missing_ok=True)
    fleet = RealFleet(workdir, specs, etcd_url=args.etcd)
    server = None
    thread = None
    try:
        fleet.start(timeout=args.timeout)
        for name, member in fleet.members.items():
            write_private(workdir / "kubeconfigs" / f"{name}.yaml", member.kubeconfig.read_bytes())
        server = HTTPServer(("127.0.0.1", 0), _handler(FleetControl(fleet)))
        server.timeout = 1.0
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": STOP_POLL},
                                  name="peers-control", daemon=True)
        thread.start()
        state = {**fleet_state(fleet), "control": f"http://127.0.0.1:{server.server_address[1]}",
                 "pid": os.getpid(), "timings": fleet.timings}
        tmp = workdir / (READY_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(tmp, workdir / READY_FILE)
        print(f"fleet up: {', '.join(fleet.members)} in {fleet.timings.get('ready', 0):.1f}s; "
              f"control {state['control']}", flush=True)
        while not stopping.wait(STOP_POLL):
            pass
        print("stopping the fleet", flush=True)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(10)
        fleet.stop()
        (workdir / READY_FILE).unlink(missing_ok=True)
    return 0


# -- talking to ``up`` ----------------------------------------------------------------
def ready_state(workdir: str) -> dict:
    path = Path(workdir) / READY_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PeerError(f"{path} does not exist: is `python -m peers up --workdir {workdir}` running?") from None
    except ValueError as exc:
        raise PeerError(f"{path} is not JSON: {exc}") from exc


def control(workdir: str, request: dict, timeout: float = CONTROL_TIMEOUT) -> Any:
    url = ready_state(workdir)["control"]
    data = json.dumps(request).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())["result"]
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error", "")
        except ValueError:
            reason = str(exc)
        raise PeerError(f"{request.get('op')} refused: {reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise PeerError(f"the fleet's control endpoint {url} does not answer: {exc}") from exc


def cluster_of(workdir: str, name: str) -> dict:
    clusters = ready_state(workdir)["clusters"]
    if name not in clusters:
        raise UsageError(f"no cluster {name!r} in this fleet ({sorted(clusters)})")
    return clusters[name]


def running_istiod(workdir: str, name: str) -> dict:
    istiod = control(workdir, {"op": "state"})["clusters"].get(name, {}).get("istiod")
    if not istiod:
        raise PeerError(f"istiod of {name!r} is not running (python -m peers istiod start {name})")
    return istiod


def kubectl_runner(kubeconfig: str) -> Callable[..., str]:
    def run(*args: str) -> str:
        done = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig, *args], capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode != 0:
            raise PeerError(f"kubectl {' '.join(args[:3])}: {done.stderr.strip()[:300]}")
        return done.stdout

    return run


def sidecar_proxy(cluster_name: str, cluster: dict, namespace: str, labels: dict):
    from peers.xds import Locality, Proxy

    return Proxy(namespace=namespace, cluster_id=cluster_name, network=cluster["network"],
                 locality=Locality(cluster["region"], cluster["zones"][0]), labels=labels or {"app": "sleep"},
                 service_account="sleep", name="sleep-probe")


def router_proxy(cluster_name: str, cluster: dict):
    from peers.xds import Locality, Proxy

    gw = cluster["gateway"]
    return Proxy.eastwest_gateway(cluster_name, cluster["network"], ip=gw["ip"], name=gw["pod"],
                                  locality=Locality(cluster["region"], gw["zone"]))


def plain(value: Any) -> Any:
    """Dataclasses (and their Locality) as JSON-able data."""
    if dataclasses.is_dataclass(value):
        out = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if hasattr(value, "tls_mode"):
            out["tls_mode"] = value.tls_mode
        if type(value).__name__ == "Locality":
            return str(value)
        return out
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def cmd_xds(args) -> int:
    from peers.xds import XdsProbe

    cluster = cluster_of(args.workdir, args.cluster)
    istiod = running_istiod(args.workdir, args.cluster)
    if args.what == "endpoints" or not args.router:
        labels = dict(parse_label(t) for t in args.label)
        proxy = sidecar_proxy(args.cluster, cluster, args.namespace, labels)
    else:
        proxy = router_proxy(args.cluster, cluster)
    with XdsProbe(istiod["xds"], proxy, timeout=args.timeout) as probe:
        if args.what == "endpoints":
            if not args.host or not args.port:
                raise UsageError("xds endpoints needs --host and --port")
            result: Any = probe.endpoints(f"outbound|{args.port}||{args.host}")
        else:
            result = sorted(probe.listeners().values(), key=lambda li: li.name)
            if args.port:
                result = [li for li in result if li.port == args.port]
    print(json.dumps(plain(result), indent=1, sort_keys=True))
    return 0


def parse_label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--label {text!r}: expected KEY=VALUE")
    return key, value


def cmd_ca_verify(args) -> int:
    from peers.ca import Workload, create_certificate, published_root, request_token, verify_chain

    cluster = cluster_of(args.workdir, args.cluster)
    istiod = running_istiod(args.workdir, args.cluster)
    try:
        root = Path(args.root).read_text()
    except OSError as exc:
        raise UsageError(f"--root {args.root}: {exc}") from exc
    kubectl = kubectl_runner(cluster["kubeconfig"])
    token = request_token(kubectl, args.namespace, args.service_account)
    issued = create_certificate(istiod["secure"], published_root(kubectl), token, args.cluster,
                                Workload(args.namespace, args.service_account, args.trust_domain))
    verdict = verify_chain(issued.chain, root)
    from cryptography import x509

    subjects = [x509.load_pem_x509_certificate(p.encode()).subject.rfc4514_string() for p in issued.chain]
    print(json.dumps({"ok": verdict.ok, "output": verdict.output, "uris": issued.uris,
                      "chain": subjects}, indent=1))
    return 0


def cmd_control(op: str) -> Callable:
    def run(args) -> int:
        request: dict = {"op": op}
        for key in ("cluster", "namespace", "name", "pods", "ready", "zone", "index", "service_account",
                    "timeout"):
            value = getattr(args, key, None)
            if value is not None:
                request[key] = value
        if getattr(args, "port", None):
            request["ports"] = [list(parse_port(p)) for p in args.port]
        if op == "set-ready":
            request["ready"] = args.ready == "true"
        print(json.dumps(control(args.workdir, request), indent=1, sort_keys=True))
        return 0

    return run


# -- arguments -------------------------------------------------------------------------
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m peers", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def with_workdir(sp):
        sp.add_argument("--workdir", required=True, help="the directory `up` runs in")
        return sp

    up = with_workdir(sub.add_parser("up", help="start a fleet; run until SIGTERM"))
    up.add_argument("--topology", action="append", required=True, metavar="NAME:NETWORK:REGION:ZONE[,ZONE]",
                    help="one member cluster (repeat for more)")
    up.add_argument("--etcd", default=None, help="an etcd URL to use instead of starting one")
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to start the fleet")
    up.set_defaults(func=cmd_up)

    def workload_args(sp, with_ports: bool):
        with_workdir(sp)
        sp.add_argument("--cluster", required=True)
        sp.add_argument("--namespace", required=True)
        sp.add_argument("--name", required=True)
        if with_ports:
            sp.add_argument("--port", action="append", default=[], metavar="NAME:PORT[:TARGET]")
            sp.add_argument("--service-account", default=None)
        return sp

    for name, helptext in (("deploy", "deploy a service (Service, Pods, EndpointSlice)"),
                           ("scale", "make a deployed service's pods exactly --pods, --ready of them ready")):
        sp = workload_args(sub.add_parser(name, help=helptext), with_ports=name == "deploy")
        sp.add_argument("--pods", type=int, required=True)
        sp.add_argument("--ready", type=int, required=True)
        sp.add_argument("--zone", default=None, help="all pods in this zone (default: round-robin)")
        sp.set_defaults(func=cmd_control(name))
    sr = workload_args(sub.add_parser("set-ready", help="flip one pod's readiness"), with_ports=False)
    sr.add_argument("--index", type=int, required=True)
    sr.add_argument("--ready", choices=("true", "false"), required=True)
    sr.set_defaults(func=cmd_control("set-ready"))

    istiod = sub.add_parser("istiod", help="start a cluster's istiod (once its cacerts exists)")
    istiod.add_argument("action", choices=("start",))
    istiod.add_argument("cluster", nargs="+", help="the clusters whose istiod to start (in parallel)")
    with_workdir(istiod)
    istiod.add_argument("--timeout", type=float, default=180.0)
    istiod.set_defaults(func=cmd_control("istiod-start"))

    for name in ("state", "rss"):
        sp = with_workdir(sub.add_parser(name, help=f"the fleet's {name} as JSON"))
        sp.set_defaults(func=cmd_control(name))

    xds = with_workdir(sub.add_parser("xds", help="ask a cluster's istiod over xDS"))
    xds.add_argument("what", choices=("endpoints", "listeners"))
    xds.add_argument("--cluster", required=True)
    xds.add_argument("--namespace", default="default", help="the sidecar's namespace")
    xds.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="the sidecar's labels")
    xds.add_argument("--router", action="store_true", help="listeners: as the east-west gateway")
    xds.add_argument("--host", default=None)
    xds.add_argument("--port", type=int, default=None)
    xds.add_argument("--timeout", type=float, default=10.0)
    xds.set_defaults(func=cmd_xds)

    ca = with_workdir(sub.add_parser("ca-verify", help="a workload certificate from istiod, verified"))
    ca.add_argument("--cluster", required=True)
    ca.add_argument("--namespace", required=True)
    ca.add_argument("--service-account", required=True)
    ca.add_argument("--root", required=True, help="PEM file of the root the chain must verify against")
    ca.add_argument("--trust-domain", default="cluster.local")
    ca.set_defaults(func=cmd_ca_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PeerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
