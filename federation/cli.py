"""The ``federation`` command line: parsing and printing only; work happens in
the hub (through the admin gRPC API) or in the modules each command names."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import sys

import yaml

from federation import __version__, completion, errors, manifests, output
from federation.check.reasons import explain
from federation.check.watching import watch
from federation.check import cli as check_cli
from federation.collecting import settle_long_lived_heap
from federation.commanding import add_hub_flags as _add_hub_flags
from federation.commanding import connect as _client
from federation.commanding import env as _env
from federation.commanding import run_command, wait_for_signal
from federation.dashboard import cli as dashboard_cli
from federation.model.scope import parse_label_args
from federation.onboarding import cli as onboarding_cli
from federation.settings import HubSettings
from federation.trust import cli as trust_cli

DESCRIPTION = ("Run and operate a mesh-federation hub: register member clusters, see federated "
               "services and sync state, manage failover policies, the mesh's trust root and VMs.")
EPILOG = ("Commands that talk to a hub read FEDERATION_HUB, FEDERATION_CA and FEDERATION_TOKEN_FILE "
          "(`. DIR/hub.env` sets them). `federation COMMAND --help` describes each command.")

log = logging.getLogger("federation.cli")


def _read_input(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise errors.ConfigError(f"{path}: {exc.strerror}") from exc


# -- commands -------------------------------------------------------------------
def cmd_version(args) -> int:
    print(f"federation {__version__}")
    return 0


def _settings_from(args):

    return HubSettings(
        store_url=args.store, listen=args.listen, onboarding_listen=args.onboarding_listen,
        metrics_listen=args.metrics_listen, health_listen=args.health_listen, tls_cert=args.tls_cert, tls_key=args.tls_key,
        admin_token_file=args.admin_token_file, kek_file=args.kek_file,
        export_mode=args.export_mode, debounce_quiet=args.debounce_quiet,
        debounce_max=args.debounce_max, debounce_weight_max=args.debounce_weight_max,
        initial_sync_timeout=args.initial_sync_timeout,
        stale_ttl=args.stale_ttl,
        trust_domain=args.trust_domain, vm_grace=args.vm_grace, vm_cert_ttl=args.vm_cert_ttl,
        rotation_soak=args.rotation_soak,
        onboarding_session_listen=args.onboarding_session_listen,
        kubeconfig_options=tuple(args.allow_kubeconfig_option or ()),
        otlp_endpoint=args.otlp_endpoint, otlp_ca_file=args.otlp_ca,
        gateway_probe_interval=args.probe_gateways, replica_id=args.replica_id,
        gateway_withdraw_after=args.gateway_withdraw_after, gateway_restore_after=args.gateway_restore_after,
        lease_ttl=args.lease_ttl,
    )


def cmd_serve(args) -> int:
    from federation.serving import HubService, prepare_workdir, write_hub_env  # the whole hub: only to serve

    if args.workdir:
        wd = prepare_workdir(args.workdir, hosts=[args.listen.rpartition(":")[0] or "127.0.0.1", "localhost"])
        args.tls_cert = args.tls_cert or str(wd.cert)
        args.tls_key = args.tls_key or str(wd.key)
        args.admin_token_file = args.admin_token_file or str(wd.token)
        args.kek_file = args.kek_file or str(wd.kek)
    service = HubService(_settings_from(args))
    service.start()
    settle_long_lived_heap()
    if args.workdir:
        write_hub_env(wd, service.api.address, listener_env(service))
        (wd.root / "hub.ready").write_text(service.api.address + "\n")
    try:
        wait_for_signal()
    finally:
        log.info("stopping hub")
        if args.workdir:
            (wd.root / "hub.ready").unlink(missing_ok=True)
        service.stop()
    return 0


def listener_env(service) -> dict[str, str]:
    """The running hub's other listeners as hub.env variables (only those that listen)."""
    env = {}
    server = service.onboarding.server
    if server is not None:
        env["FEDERATION_ONBOARDING"] = server.address
        env["FEDERATION_ONBOARDING_SESSION"] = server.session_address
    if service.metrics_port:
        host = service.settings.metrics_listen.rpartition(":")[0] or "127.0.0.1"
        env["FEDERATION_METRICS"] = f"{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{service.metrics_port}"
    return env


def cmd_cluster_add(args) -> int:

    labels = dict(parse_label_args(args.label or ()))  # before reading stdin or calling the hub
    kubeconfig = _read_input(args.kubeconfig)
    record = _client(args).register_cluster(args.name, kubeconfig, network=args.network, region=args.region,
                                            istiod_ca=args.istiod_ca, labels=labels)
    print(f"cluster {record.name} registered (server {record.server})")
    return 0


def cmd_cluster_label(args) -> int:
    """kubectl's spelling: ``KEY=VALUE`` sets, ``KEY-`` removes."""

    removing = [item for item in args.labels if "=" not in item and item.endswith("-")]
    labels = dict(parse_label_args([item for item in args.labels if item not in removing], flag="label"))
    remove = [item[:-1] for item in removing]
    record = _client(args).label_cluster(args.name, labels, remove)
    print(f"cluster {record.name} labelled: {_labels(record.labels)}")
    return 0


def _labels(labels) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


def format_clusters(rows, wide: bool = False) -> str:
    columns = ["NAME", "NETWORK", "REGION", "STATE", "GATEWAYS", "LABELS"] + (["SERVER"] if wide else [])
    return output.table(columns, [[r.name, r.network, r.region, r.state, ",".join(r.gateways), _labels(r.labels)]
                                  + ([r.server] if wide else []) for r in rows])


def cmd_cluster_list(args) -> int:
    rows = _client(args).list_clusters()
    print(output.render(output.chosen(args), output.plain(list(rows)),
                        lambda wide: format_clusters(rows, wide)))
    return 0


def cmd_cluster_remove(args) -> int:
    result = _client(args).remove_cluster(args.name, force=args.force)
    if result.state == "removed":
        print(f"cluster {args.name} removed ({result.deleted} object(s) deleted in it)")
        return 0
    if result.state == "forced":
        print(f"cluster {args.name} forgotten without cleanup ({result.error or 'not answering'}); "
              f"left behind in it:")
        for item in result.left_behind:
            print(f"  {item}")
        return 0
    print(f"cluster {args.name} removing: it does not answer ({result.error}); the hub retries the "
          f"cleanup until it does (`federation cluster remove {args.name} --force` gives up)")
    return 2


def cmd_cluster_kubeconfig(args) -> int:
    from federation.kube.member_access import make_member_kubeconfig  # the kubernetes client: only here

    text = make_member_kubeconfig(args.context, kubeconfig_path=args.kubeconfig,
                                  namespace=args.namespace, service_account=args.service_account,
                                  duration_seconds=args.duration)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0


def format_services(rows, wide: bool = False) -> str:
    """A row per (service, cluster) that exports or imports it: EXPORTS says its
    Service there is federated, IMPORTS that it is given the others' endpoints."""
    columns = ["SERVICE", "CLUSTER", "NETWORK", "READY", "EXPORTS", "IMPORTS"] + (
        ["STALE", "LOCALITIES", "IMPORT SELECTOR"] if wide else ["LOCALITIES"])
    table = []
    for row in rows:
        exporters = {c.cluster: c for c in row.clusters}
        selectors = dict(s.split(": ", 1) for s in row.import_selectors)
        for name in sorted(set(exporters) | set(row.imported_to)):
            c = exporters.get(name)
            locs = ",".join(f"{loc or '-'}={n}" for loc, n in sorted(c.localities.items())) if c else ""
            cells = [f"{row.namespace}/{row.name}", name, c.network if c else "", c.ready_endpoints if c else "",
                     "yes" if c else "no", "yes" if name in row.imported_to else "no"]
            if wide:
                cells += ["yes" if c and c.stale else "no", locs, selectors.get(name, "")]
            else:
                cells += [locs + (" (stale)" if c and c.stale else "")]
            table.append(cells)
    return output.table(columns, table)


def cmd_services(args) -> int:
    rows = _client(args).list_services()
    print(output.render(output.chosen(args), output.plain(list(rows)), lambda wide: format_services(rows, wide)))
    return 0


def format_status(status, wide: bool = False) -> str:

    extra = f"{'REGION':<10} {'LAST PUSH':<20} {'GATEWAY':<12} " if wide else ""
    lines = [f"hub {status.version}  store={status.store_backend}  services={status.federated_services}  "
             f"snapshot={status.snapshot_version}"]
    if status.gateway_note:
        lines.append(f"gateways: {status.gateway_note}")
    lines.append(f"{'CLUSTER':<14} {'NETWORK':<10} {extra}{'STATE':<12} {'SYNCED':<7} {'OBJECTS':>7}  REASON")
    for c in status.clusters:
        extra = (f"{c.region or '-':<10} {output.when(c.last_push):<20} {c.gateway or '-':<12} "
                 if wide else "")
        lines.append(f"{c.name:<14} {c.network or '-':<10} {extra}"
                     f"{c.state + (' (stale)' if c.stale else ''):<12} "
                     f"{'yes' if c.synced else 'no':<7} {c.objects:>7}  {explain(c)}")
        if wide and c.error:
            lines.append(f"  error: {c.error}")
        for conflict in c.conflicts:
            lines.append(f"  conflict: {conflict}")
    return "\n".join(lines)


def status_data(status) -> dict:
    """The status as JSON-ready data, each cluster with its ``reason`` in words."""

    data = output.plain(status)
    for row, cluster in zip(data["clusters"], status.clusters):
        row["reason"] = explain(cluster)
    return data


def cmd_status(args) -> int:
    client = _client(args)
    fmt = output.chosen(args)

    def text() -> str:
        status = client.status()
        return output.render(fmt, status_data(status), lambda wide: format_status(status, wide))

    if not args.watch:
        print(text())
        return 0

    watch(text, lambda s: print(s, flush=True), interval=args.interval)
    return 0


def cmd_render(args) -> int:
    sys.stdout.write(_client(args).render(args.cluster))
    return 0


def cmd_diff(args) -> int:
    """Like ``kubectl diff``: a unified diff per object; exit 1 when anything differs, 2 on
    an error (so that 1 always means differences)."""
    try:
        diffs = _client(args).diff(args.cluster)
    except errors.FederationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for d in diffs:
        what = f"{d.kind} {d.namespace + '/' if d.namespace else ''}{d.name}"
        if d.action == "conflict":
            print(f"# {what}: exists and is not this hub's; the hub leaves it alone (see `federation status`)")
            continue
        sys.stdout.writelines(difflib.unified_diff(
            d.live_yaml.splitlines(True), d.desired_yaml.splitlines(True),
            f"live/{what}", f"desired/{what} ({d.action})"))
    return 1 if diffs else 0


def cmd_apply(args) -> int:
    for line in _client(args).apply_resources(manifests.read_manifests(args.filename)):
        print(line)
    return 0


def cmd_delete(args) -> int:
    for line in _client(args).delete_resources(manifests.read_manifests(args.filename)):
        print(line)
    return 0


def cmd_get(args) -> int:
    kind = manifests.canonical_kind(args.kind)
    docs = manifests.selected(manifests.documents(_client(args).list_resources(kind)),
                              args.name, args.namespace)
    fmt = output.chosen(args)
    if not docs and fmt in ("table", "wide"):
        where = f" in namespace {args.namespace}" if args.namespace else ""
        print(f"No resources found{where}.", file=sys.stderr)  # as kubectl: stdout stays empty
        return 0
    if fmt == "yaml":  # documents that `apply -f` takes back
        sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False) if docs else "")
        return 0
    if fmt == "json":
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=2))
        return 0
    columns, rows = manifests.rows(docs, fmt == "wide")
    print(output.table(columns, rows))
    return 0


def cmd_completion(args) -> int:

    sys.stdout.write(completion.script(args.shell, build_parser()))
    return 0


# -- parser -----------------------------------------------------------------------
def _add_serve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=_env("FEDERATION_STORE", "memory://"),
                   help="state store: memory:// (default) or etcd://HOST:PORT[,HOST:PORT]")
    p.add_argument("--listen", default="127.0.0.1:8443", help="admin gRPC API address (default 127.0.0.1:8443)")
    p.add_argument("--onboarding-listen", default="", help="VM onboarding gRPC API address (off when empty)")
    p.add_argument("--onboarding-session-listen", default="",
                   help="mTLS address for VM Renew/Heartbeat (default: onboarding port + 1)")
    p.add_argument("--vm-cert-ttl", type=float, default=24 * 3600.0,
                   help="VM workload certificate lifetime in seconds (default 86400)")
    p.add_argument("--metrics-listen", default="", help="Prometheus metrics address, e.g. 0.0.0.0:9464")
    p.add_argument("--otlp-endpoint", default=_env("FEDERATION_OTLP_ENDPOINT"),
                   help="export traces over OTLP/gRPC to http(s)://HOST:PORT (needs mesh-federation[otlp])")
    p.add_argument("--otlp-ca", default="", help="CA file of an https:// OTLP collector (default: system roots)")
    p.add_argument("--probe-gateways", type=float, default=3.0, metavar="SECONDS",
                   help="TCP-probe every member's east-west gateway this often, for "
                        "federation_gateway_reachable and gateway-aware failover (default 3; 0: off)")
    p.add_argument("--gateway-withdraw-after", type=float, default=10.0, metavar="SECONDS",
                   help="withdraw a cluster from the other clusters' entries once its gateway has not "
                        "answered for this long, unless most gateways do not (default 10; 0: never)")
    p.add_argument("--gateway-restore-after", type=float, default=0.0, metavar="SECONDS",
                   help="restore a withdrawn cluster once its gateway has answered for this long "
                        "(default 0: the first probe round that reaches it)")
    p.add_argument("--health-listen", default="",
                   help="plaintext gRPC health endpoint for kubelet probes, e.g. 0.0.0.0:8081 (off when empty)")
    p.add_argument("--tls-cert", default="", help="admin API server certificate (PEM)")
    p.add_argument("--tls-key", default="", help="admin API server private key (PEM)")
    p.add_argument("--admin-token-file", default="", help="file with admin bearer tokens, one per line")
    p.add_argument("--kek-file", default=_env("FEDERATION_KEK_FILE"),
                   help="key-encryption key file for secrets at rest (or FEDERATION_KEK)")
    p.add_argument("--export-mode", default="all", choices=["all", "namespace-label", "service-export"],
                   help="which Services are federated (default all)")
    p.add_argument("--debounce-quiet", type=float, default=0.1,
                   help="a change after this quiet period is pushed at once; bursts are pushed "
                        "at most this often (seconds, default 0.1)")
    p.add_argument("--debounce-max", type=float, default=1.0, help="max coalescing delay in seconds (default 1)")
    p.add_argument("--debounce-weight-max", type=float, default=0.2,
                   help="weight-only changes (ready counts, none reaching zero) are pushed at most "
                        "this often; availability changes go ahead of them (seconds, default 0.2)")
    p.add_argument("--initial-sync-timeout", type=float, default=30.0,
                   help="seconds to wait for every cluster's first sync before pruning (default 30)")
    p.add_argument("--stale-ttl", type=float, default=3600.0,
                   help="seconds an unreachable cluster's last-known endpoints are kept (default 3600)")
    p.add_argument("--trust-domain", default="cluster.local", help="SPIFFE trust domain (default cluster.local)")
    p.add_argument("--rotation-soak", type=float, default=24 * 3600.0,
                   help="seconds each root-rotation step is held once every member's istiod uses it: "
                        "at least one workload-certificate lifetime (default 86400)")
    p.add_argument("--replica-id", default=_env("FEDERATION_REPLICA_ID"),
                   help="this replica's name among the hub's replicas; unique per replica "
                        "(default: hostname plus a random suffix)")
    p.add_argument("--lease-ttl", type=int, default=10, metavar="SECONDS",
                   help="replica membership lease: a replica that dies is seen gone, and its clusters "
                        "move (status: owner lost), within this time (default 10)")
    p.add_argument("--vm-grace", type=float, default=30.0,
                   help="seconds without heartbeats before a VM's entries are removed (default 30)")
    p.add_argument("--allow-kubeconfig-option", action="append", metavar="OPTION[,OPTION]",
                   help="accept this unsafe member kubeconfig option (exec, auth-provider, tokenFile, "
                        "client-certificate, client-key, certificate-authority, "
                        "insecure-skip-tls-verify, proxy-url, http); refused by default")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="federation", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--log-level", default=_env("FEDERATION_LOG_LEVEL", "info"),
                        choices=["debug", "info", "warning", "error"], help="log level (default info)")
    parser.add_argument("--log-format", default=_env("FEDERATION_LOG_FORMAT", "kv"), choices=["kv", "json"],
                        help="log line format: key=value (default) or json")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("version", help="print the version")
    p.set_defaults(func=cmd_version)

    p = sub.add_parser("serve", help="run the hub")
    _add_serve_flags(p)
    p.add_argument("--workdir", default="", help="create missing TLS, token and KEK files here; write hub.env")
    p.set_defaults(func=cmd_serve)

    cluster = sub.add_parser("cluster", help="member clusters").add_subparsers(
        dest="cluster_command", metavar="SUBCOMMAND", required=True)
    p = cluster.add_parser("add", help="register a member cluster")
    p.add_argument("name", help="cluster name (DNS-1123 label)")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig file for the hub's access ('-' for stdin)")
    p.add_argument("--network", default="", help="Istio network (default: istio-system's topology.istio.io/network)")
    p.add_argument("--region", default="", help="region (default: from its Nodes)")
    p.add_argument("--istiod-ca", default="", metavar="HOST:PORT",
                   help="where the hub reaches this cluster's istiod over TLS (its port 15012, e.g. "
                        "the east-west gateway's); root rotation then waits until istiod signs with "
                        "each step's intermediate (not checked when omitted)")
    p.add_argument("--label", action="append", metavar="KEY=VALUE",
                   help="a label of the cluster, e.g. env=prod (repeatable): what import selectors match")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_cluster_add)
    p = cluster.add_parser("label", help="set (KEY=VALUE) or remove (KEY-) a registered cluster's labels")
    p.add_argument("name", help="the registered cluster name")
    p.add_argument("labels", nargs="+", metavar="KEY=VALUE|KEY-", help="labels to set or remove")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_cluster_label)
    p = cluster.add_parser("list", help="list member clusters")
    output.add_output_flags(p)
    _add_hub_flags(p)
    p.set_defaults(func=cmd_cluster_list)
    p = cluster.add_parser("remove", help="remove a member cluster and the objects the hub wrote into it "
                                          "(exit status 2 while it does not answer and cleanup is retried)")
    p.add_argument("name", help="the registered cluster name")
    p.add_argument("--force", action="store_true",
                   help="give up on a cluster that does not answer: forget it and name what is left behind")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_cluster_remove)
    p = cluster.add_parser("kubeconfig", help="make a least-privilege kubeconfig for the hub (like "
                                              "istioctl create-remote-secret)")
    p.add_argument("--context", default=None, help="kubeconfig context of the member cluster")
    p.add_argument("--kubeconfig", default=None, help="your kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--namespace", default="istio-system", help="namespace of the hub's service account")
    p.add_argument("--service-account", default="mesh-federation-reader", help="service account name")
    p.add_argument("--duration", type=int, default=86400 * 365, help="token lifetime in seconds")
    p.add_argument("-o", "--output", default="", help="write to this file (0600) instead of stdout")
    p.set_defaults(func=cmd_cluster_kubeconfig)

    p = sub.add_parser("services", help="federated services × clusters × ready endpoints × locality")
    output.add_output_flags(p)
    _add_hub_flags(p)
    p.set_defaults(func=cmd_services)

    p = sub.add_parser("status", help="hub and per-cluster sync status")
    output.add_output_flags(p)
    p.add_argument("-w", "--watch", action="store_true", help="print the status again whenever it changes")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between looks with --watch (default 2)")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("render", help="the YAML the hub writes into a cluster (dry run; secrets redacted)")
    p.add_argument("--cluster", required=True, help="the member cluster's registered name")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("diff", help="what the hub would change in a cluster against what is live there "
                                    "(exit 1 when something differs, as kubectl diff)")
    p.add_argument("--cluster", required=True, help="the member cluster's registered name")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("apply", help=f"create or update hub resources ({', '.join(manifests.KIND_NAMES)})")
    p.add_argument("-f", "--filename", required=True,
                   help="YAML file, a directory of *.yaml/*.yml/*.json files, or '-' for stdin")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("delete", help="delete the hub resources a YAML file names")
    p.add_argument("-f", "--filename", required=True,
                   help="YAML file, a directory of *.yaml/*.yml/*.json files, or '-' for stdin")
    _add_hub_flags(p)
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("get", help=f"list hub resources ({', '.join(manifests.KIND_NAMES)})")
    p.add_argument("kind", nargs="?", default="",
                   help=f"{manifests.kinds_help()}; any case (default: every kind)")
    p.add_argument("name", nargs="?", default="", help="only the resource of this name")
    p.add_argument("-n", "--namespace", default="", help="only resources of this namespace")
    output.add_output_flags(p)
    _add_hub_flags(p)
    p.set_defaults(func=cmd_get)

    for extend in EXTENSIONS:
        extend(sub, _add_hub_flags, _client)

    p = sub.add_parser("completion", help="print a shell completion script (bash or zsh)",
                       description="Print a completion script for federation's commands and flags. "
                                   "bash: `source <(federation completion bash)`; zsh: "
                                   "`source <(federation completion zsh)`.")
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete in")
    p.set_defaults(func=cmd_completion)
    return parser


# Command groups that live beside their feature.
EXTENSIONS = (trust_cli.register, onboarding_cli.register, check_cli.register, dashboard_cli.register)


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
