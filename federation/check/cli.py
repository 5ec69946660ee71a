"""``federation check [--cluster NAME]``: ✓/✗ lines, each ✗ with its fix; exit status 1
when anything failed (warnings alone pass)."""

from __future__ import annotations

import json

from federation import errors
from federation.check.findings import FAIL, Finding, failed, format_findings

HUB_FIXES = {
    "no hub address": "pass --hub or source DIR/hub.env",
    "unavailable": "check --hub (the admin API's HOST:PORT), that the hub runs, and --ca",
    "token": "pass the admin token with --token-file (the hub's --admin-token-file)",
}


def register(sub, add_hub_flags, client_factory) -> None:
    p = sub.add_parser("check", help="check the hub, its store and every member cluster (✓/✗ with fixes)",
                       description="Check that the hub, its store and each member cluster are set up "
                                   "for federation: reachable with the hub's RBAC, Istio and istiod on "
                                   "the hub's cacerts, ISTIO_MULTIROOT_MESH, the east-west gateway, the "
                                   "network label, mesh ID and trust domain. Exit status 1 on a failure.")
    p.add_argument("--cluster", default="", metavar="NAME", help="check only this member cluster")
    p.add_argument("-o", "--output", choices=["text", "json"], default="text", help="output format")
    add_hub_flags(p)
    p.set_defaults(func=lambda args: cmd_check(args, client_factory))


def cmd_check(args, client_factory) -> int:
    from federation.check.client import CheckClient  # grpc only for commands that call the hub

    if args.timeout == 30.0:
        args.timeout = 120.0  # member checks take a few seconds each; the default suits single calls
    try:
        client = client_factory(args, CheckClient)
        try:
            findings = client.run_checks(args.cluster)
        finally:
            client.close()
    except errors.NotFound:
        raise
    except errors.FederationError as exc:
        text = str(exc)
        fix = next((f for key, f in HUB_FIXES.items() if key in text.lower()), "see the error above")
        findings = [Finding("hub", "hub API answering", FAIL, text, fix)]
    if args.output == "json":
        print(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        print(format_findings(findings))
    return 1 if failed(findings) else 0
