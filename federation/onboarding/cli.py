"""``federation vm …``: bootstrap tokens and enrolled VMs, through the hub's VMAdmin API.

    federation vm token create --group NS/NAME [--ttl 1h] [--uses 1]   (prints the token only)
    federation vm token revoke TOKEN_ID
    federation vm list [--json]
    federation vm revoke NAME
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys

from federation import errors

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_ttl(text: str) -> int:
    """``1h``, ``30m``, ``2h30m``, ``90s`` or plain seconds → seconds."""
    text = text.strip()
    if text.isdigit():
        seconds = int(text)
    else:
        match = _DURATION.match(text)
        if not text or not match or not any(match.groups()):
            raise errors.ConfigError(f"--ttl {text!r}: expected a duration like 1h, 30m or 90s")
        h, m, s = (int(g or 0) for g in match.groups())
        seconds = h * 3600 + m * 60 + s
    if seconds < 1:
        raise errors.ConfigError("--ttl must be at least 1s")
    return seconds


def parse_group(text: str) -> tuple[str, str]:
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise errors.ConfigError(f"--group {text!r}: expected NAMESPACE/NAME")
    return namespace, name


def register(sub, add_hub_flags, client_factory) -> None:
    """Add the ``vm`` command group to the ``federation`` parser's subparsers."""
    group = sub.add_parser("vm", help="VM onboarding: bootstrap tokens, enrolled VMs",
                           description="Onboard VMs: create a bootstrap token for a "
                                       "WorkloadGroup, hand it to `federation-agent join`, "
                                       "list and revoke enrolled VMs.")
    commands = group.add_subparsers(dest="vm_command", metavar="SUBCOMMAND", required=True)

    token = commands.add_parser("token", help="bootstrap tokens").add_subparsers(
        dest="token_command", metavar="SUBCOMMAND", required=True)
    p = token.add_parser("create", help="create a bootstrap token (printed once, nothing else)")
    p.add_argument("--group", required=True, help="the WorkloadGroup NAMESPACE/NAME")
    p.add_argument("--ttl", default="1h", help="how long the token is valid (default 1h)")
    p.add_argument("--uses", type=int, default=1, help="how many VMs may use it (default 1)")
    add_hub_flags(p)
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("revoke", help="make an unused token unusable")
    p.add_argument("token_id", help="the token's id (logged by the hub at creation)")
    add_hub_flags(p)
    p.set_defaults(func=cmd_token_revoke)

    p = commands.add_parser("list", help="enrolled VMs")
    p.add_argument("--json", action="store_true", help="JSON output")
    add_hub_flags(p)
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("revoke", help="revoke a VM: its certificate is refused from now on")
    p.add_argument("name")
    add_hub_flags(p)
    p.set_defaults(func=cmd_revoke)


def _client(args):
    from federation.cli import _client as connect
    from federation.onboarding.client import VMAdminClient

    return connect(args, VMAdminClient)


def cmd_token_create(args) -> int:
    namespace, name = parse_group(args.group)
    ttl = parse_ttl(args.ttl)
    with _client(args) as client:
        response = client.create_token(namespace, name, ttl, args.uses)
    sys.stdout.write(response.token + "\n")  # only the token: `T=$(federation vm token create …)`
    return 0


def cmd_token_revoke(args) -> int:
    with _client(args) as client:
        client.revoke_token(args.token_id)
    print(f"token {args.token_id} revoked")
    return 0


def _when(unix: float) -> str:
    if not unix:
        return "-"
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def vm_dict(vm) -> dict:
    return {"name": vm.name, "group": f"{vm.group_namespace}/{vm.group_name}",
            "address": vm.address, "hostname": vm.hostname, "network": vm.network,
            "spiffe_id": vm.spiffe_id, "alive": vm.alive, "healthy": vm.healthy,
            "revoked": vm.revoked, "last_heartbeat": _when(vm.last_heartbeat_unix),
            "certificate_serial": vm.certificate_serial,
            "certificate_expiry": _when(vm.certificate_expiry_unix)}


def format_vms(vms) -> str:
    lines = [f"{'NAME':<28} {'GROUP':<24} {'ADDRESS':<16} {'STATE':<10} CERT EXPIRY"]
    for vm in vms:
        state = ("revoked" if vm.revoked else "alive" if vm.alive and vm.healthy
                 else "unhealthy" if vm.alive else "down")
        lines.append(f"{vm.name:<28} {vm.group_namespace + '/' + vm.group_name:<24} "
                     f"{vm.address:<16} {state:<10} {_when(vm.certificate_expiry_unix)}")
    return "\n".join(lines)


def cmd_list(args) -> int:
    with _client(args) as client:
        vms = client.list_vms()
    print(json.dumps([vm_dict(v) for v in vms], indent=2) if args.json else format_vms(vms))
    return 0


def cmd_revoke(args) -> int:
    with _client(args) as client:
        client.revoke_vm(args.name)
    print(f"VM {args.name} revoked")
    return 0
