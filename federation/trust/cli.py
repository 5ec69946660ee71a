"""``federation trust …``: the mesh root and its rotation, through the hub's Trust API.

    federation trust init [--algorithm A] [--validity-days N]
    federation trust import --cert FILE --key FILE
    federation trust rotate [--algorithm A] [--validity-days N] [--cert FILE --key FILE] [--wait]
    federation trust status [-o table|wide|json|yaml]
"""

from __future__ import annotations

import time

from federation import errors, output
from federation.commanding import connect
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
    p.add_argument("--wait", action="store_true",
                   help="print progress until the first step is complete (every cluster and VM "
                        "confirmed it), for at most --timeout seconds")
    add_hub_flags(p)
    p.set_defaults(func=cmd_rotate)

    p = commands.add_parser("status", help="roots, intermediates and the rotation step",
                            description="Roots, each cluster's intermediate with its expiry and "
                                        "confirmed rotation step, and who a rotation waits for.")
    output.add_output_flags(p)
    add_hub_flags(p)
    p.set_defaults(func=cmd_status)


def _add_key_flags(p) -> None:
    p.add_argument("--algorithm", default=DEFAULT_ALGORITHM, choices=ALGORITHMS,
                   help=f"key algorithm of the root (default {DEFAULT_ALGORITHM})")
    p.add_argument("--validity-days", type=int, default=DEFAULT_VALIDITY_DAYS,
                   help=f"root validity in days (default {DEFAULT_VALIDITY_DAYS})")


def _client(args):
    from federation.trust.client import TrustClient  # grpc only for commands that call the hub

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
              f"{rotation['new_root']} (step {rotation['step']} {rotation['step_name']})", flush=True)
        if args.wait:
            wait_for_step(client, rotation["rotation_id"], rotation["step"], rotation["step_name"],
                          args.timeout)
    return 0


WAIT_INTERVAL = 0.5


def wait_for_step(client, rotation_id: str, step: int, step_name: str, timeout: float) -> dict:
    """Poll the Trust status until ``step`` of the rotation is complete (it moved on,
    or nobody is left to confirm it), printing a line each time who it waits for
    changes. Transient error naming who is still pending after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    label = f"step {step} ({step_name})"
    last = None
    while True:
        rot = client.trust_status().get("rotation") or {}
        moved = rot.get("rotation_id") != rotation_id or rot.get("step") != step
        waiting = _waiting(rot) if not moved else ""
        if moved or not waiting:
            after = (f"; the rotation is at step {rot.get('step')} ({rot.get('step_name')})"
                     if rot.get("rotation_id") == rotation_id and moved else "")
            print(f"{label} complete{after}", flush=True)
            return rot
        if waiting != last:
            print(f"{label}: waiting for {waiting}", flush=True)
            last = waiting
        left = deadline - time.monotonic()
        if left <= 0:
            raise errors.Transient(f"{label} not complete after {timeout:g}s: waiting for {waiting} "
                                   "(`federation trust status` shows more)")
        time.sleep(min(WAIT_INTERVAL, left))


def _waiting(rot: dict) -> str:
    parts = [f"clusters {', '.join(rot['pending_clusters'])}"] if rot.get("pending_clusters") else []
    if rot.get("pending_agents"):
        parts.append(f"agents {', '.join(rot['pending_agents'])}")
    if not parts and rot.get("soak_left_seconds", 0) > 0:
        parts.append("the soak")  # no number: a line only when who it waits for changes
    return "; ".join(parts)


def cmd_status(args) -> int:
    with _client(args) as client:
        status = client.trust_status()
    print(output.render(output.chosen(args), status, lambda wide: format_status(status, wide)))
    return 0


# -- formatting ------------------------------------------------------------------
def _day(iso: str | None) -> str:
    return iso[:10] if iso else "-"


def _time(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "-"


def _signer_line(gate: dict) -> str:
    if gate.get("signing_intermediate"):
        return f"  cluster {gate['cluster']}: istiod signs with {gate['signing_intermediate']}"
    if gate.get("intermediate_note"):
        return f"  cluster {gate['cluster']}: signing intermediate {gate['intermediate_note']}"
    return ""


def format_status(status: dict, wide: bool = False) -> str:
    if not status.get("initialized"):
        return (f"no mesh root (trust domain {status.get('trust_domain', '-')}): "
                "run `federation trust init` or `federation trust import`")
    rot = status["rotation"]
    waiting = _waiting(rot)
    lines = [f"trust domain {status['trust_domain']}  rotation step {rot['step']} "
             f"({rot['step_name']})" + (f"  id {rot['rotation_id']}" if rot["rotation_id"] else "")
             + (f"  waiting for {waiting}" if waiting else ""),
             *[f"  {line}" for line in rot.get("waiting_for", [])],
             *[f"  cluster {c['cluster']}: {c['waiting_for']}" for c in rot.get("clusters", [])
               if rot["step"] == 0 and c.get("waiting_for")],
             *([f"  intermediate check: {rot['intermediate_check']}"]
               if wide and rot.get("intermediate_check") else []),
             *([_signer_line(c) for c in rot.get("clusters", []) if _signer_line(c)] if wide else []),
             "",
             output.table(["ROOT", "ROLE", "ALGORITHM", "NOT AFTER", "FINGERPRINT"]
                          + (["SUBJECT"] if wide else []),
                          [[r["id"], r["role"], r["algorithm"], _time(r["not_after"]), r["fingerprint"]]
                           + ([r["subject"]] if wide else []) for r in status["roots"]]),
             ""]
    rows = list(status["intermediates"])
    if status.get("workload_intermediate"):
        rows.append({**status["workload_intermediate"], "cluster": "(hub workloads)",
                     "confirmed_step": None})
    lines.append(output.table(
        ["CLUSTER", "ISSUER ROOT", "NOT AFTER", "RENEW AT", "CONFIRMED", "UP TO DATE"]
        + (["FINGERPRINT"] if wide else []),
        [[i["cluster"], i["issuer_root"], _time(i["not_after"]), _time(i["renew_at"]),
          "-" if i["confirmed_step"] is None else str(i["confirmed_step"]),
          "yes" if i["up_to_date"] else "no"] + ([i["fingerprint"]] if wide else []) for i in rows]))
    return "\n".join(lines)
