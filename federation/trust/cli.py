"""``federation trust …``: the mesh root and its rotation, through the hub's Trust API.

    federation trust init [--algorithm A] [--validity-days N]
    federation trust import --cert FILE --key FILE
    federation trust rotate [--algorithm A] [--validity-days N] [--cert FILE --key FILE]
    federation trust status [--json]
"""

from __future__ import annotations

import json

from federation import errors
from federation.trust.certificates import ALGORITHMS

DEFAULT_ALGORITHM = "ecdsa-p256"
DEFAULT_VALIDITY_DAYS = 3650


def register(sub, add_hub_flags, client_factory) -> None:
    """Add the ``trust`` command group to the ``federation`` parser's subparsers.

    ``client_factory`` is the CLI's admin-client factory; the Trust calls need a
    client of their own, built from the same connection flags."""
    group = sub.add_parser("trust", help="the mesh's shared trust root: create, import, rotate, show",
                           description="The mesh's shared trust root: one root (created or "
                                       "imported), an intermediate CA per member cluster "
                                       "delivered as istio-system/cacerts, and root rotation.")
    commands = group.add_subparsers(dest="trust_command", metavar="SUBCOMMAND", required=True)

    p = commands.add_parser("init", help="create the mesh root",
                            description="Create the mesh root; every member cluster then gets "
                                        "its own intermediate CA from it.")
    _add_key_flags(p)
    add_hub_flags(p)
    p.set_defaults(func=cmd_init)

    p = commands.add_parser("import", help="adopt an existing root certificate and key",
                            description="Adopt an existing self-signed root CA. The key is "
                                        "sealed in the hub's store and never shown again.")
    p.add_argument("--cert", required=True, help="root certificate (PEM file)")
    p.add_argument("--key", required=True, help="its unencrypted private key (PEM file)")
    add_hub_flags(p)
    p.set_defaults(func=cmd_import)

    p = commands.add_parser("rotate", help="start a root rotation",
                            description="Start a rotation to a new root (created, or imported "
                                        "with --cert and --key). The hub takes Istio's three "
                                        "steps, each once every cluster and VM confirmed the "
                                        "previous; follow it with `federation trust status`.")
    _add_key_flags(p)
    p.add_argument("--cert", default="", help="import this root certificate (PEM file) instead")
    p.add_argument("--key", default="", help="the imported root's private key (PEM file)")
    add_hub_flags(p)
    p.set_defaults(func=cmd_rotate)

    p = commands.add_parser("status", help="roots, intermediates and the rotation step",
                            description="Roots, each cluster's intermediate with its expiry and "
                                        "confirmed rotation step, and who a rotation waits for.")
    p.add_argument("--json", action="store_true", help="JSON output")
    add_hub_flags(p)
    p.set_defaults(func=cmd_status)


def _add_key_flags(p) -> None:
    p.add_argument("--algorithm", default=DEFAULT_ALGORITHM, choices=ALGORITHMS,
                   help=f"key algorithm of the root (default {DEFAULT_ALGORITHM})")
    p.add_argument("--validity-days", type=int, default=DEFAULT_VALIDITY_DAYS,
                   help=f"root validity in days (default {DEFAULT_VALIDITY_DAYS})")


def _client(args):
    from federation.cli import _client as connect
    from federation.trust.client import TrustClient

    return connect(args, TrustClient)


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise errors.ConfigError(f"{what} {path}: {exc.strerror}") from exc


def _check_days(days: int) -> int:
    if days < 1:
        raise errors.ConfigError("--validity-days must be at least 1")
    return days


# -- commands --------------------------------------------------------------------
def cmd_init(args) -> int:
    days = _check_days(args.validity_days)
    with _client(args) as client:
        root = client.init_root(args.algorithm, days)
    print(f"mesh root {root['id']} created ({root['algorithm']}, expires {_day(root['not_after'])})")
    print(f"fingerprint {root['fingerprint']}")
    return 0


def cmd_import(args) -> int:
    cert, key = _read(args.cert, "certificate"), _read(args.key, "key")
    with _client(args) as client:
        root = client.import_root(cert, key)
    print(f"mesh root {root['id']} imported ({root['algorithm']}, expires {_day(root['not_after'])})")
    print(f"fingerprint {root['fingerprint']}")
    return 0


def cmd_rotate(args) -> int:
    if bool(args.cert) != bool(args.key):
        raise errors.ConfigError("importing a new root takes both --cert and --key")
    with _client(args) as client:
        if args.cert:
            rotation = client.start_rotation(cert_pem=_read(args.cert, "certificate"),
                                             key_pem=_read(args.key, "key"))
        else:
            rotation = client.start_rotation(args.algorithm, _check_days(args.validity_days))
    print(f"root rotation {rotation['rotation_id']} started: {rotation['current_root']} → "
          f"{rotation['new_root']} (step {rotation['step']} {rotation['step_name']})")
    return 0


def cmd_status(args) -> int:
    with _client(args) as client:
        status = client.trust_status()
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0


# -- formatting ------------------------------------------------------------------
def _day(iso: str | None) -> str:
    return iso[:10] if iso else "-"


def _time(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "-"


def format_status(status: dict) -> str:
    if not status.get("initialized"):
        return (f"no mesh root (trust domain {status.get('trust_domain', '-')}): "
                "run `federation trust init` or `federation trust import`")
    rot = status["rotation"]
    waiting = [f"clusters {', '.join(rot['pending_clusters'])}"] if rot["pending_clusters"] else []
    if rot["pending_agents"]:
        waiting.append(f"agents {', '.join(rot['pending_agents'])}")
    lines = [f"trust domain {status['trust_domain']}  rotation step {rot['step']} "
             f"({rot['step_name']})" + (f"  id {rot['rotation_id']}" if rot["rotation_id"] else "")
             + (f"  waiting for {'; '.join(waiting)}" if waiting else ""),
             "",
             f"{'ROOT':<18} {'ROLE':<8} {'ALGORITHM':<11} {'NOT AFTER':<17} FINGERPRINT"]
    for r in status["roots"]:
        lines.append(f"{r['id']:<18} {r['role']:<8} {r['algorithm'] or '-':<11} "
                     f"{_time(r['not_after']):<17} {r['fingerprint']}")
    lines += ["", f"{'CLUSTER':<16} {'ISSUER ROOT':<18} {'NOT AFTER':<17} {'RENEW AT':<17} "
                  f"{'CONFIRMED':<9} UP TO DATE"]
    rows = list(status["intermediates"])
    if status.get("workload_intermediate"):
        rows.append({**status["workload_intermediate"], "cluster": "(hub workloads)",
                     "confirmed_step": None})
    for i in rows:
        confirmed = "-" if i["confirmed_step"] is None else str(i["confirmed_step"])
        lines.append(f"{i['cluster']:<16} {i['issuer_root']:<18} {_time(i['not_after']):<17} "
                     f"{_time(i['renew_at']):<17} {confirmed:<9} {'yes' if i['up_to_date'] else 'no'}")
    return "\n".join(lines)
