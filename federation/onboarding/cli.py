"""``federation vm …``: bootstrap tokens and enrolled VMs, through the hub's VMAdmin API.

    federation vm token create --group NS/NAME [--ttl 1h] [--uses 1]   (prints the token only)
    federation vm token list [-o table|wide|json|yaml]   (ids, groups, uses; never a token)
    federation vm token revoke TOKEN_ID
    federation vm list [-o table|wide|json|yaml]
    federation vm revoke NAME
"""

from __future__ import annotations

import re
import sys
import time

from federation import errors, output
from federation.commanding import connect

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
    p = token.add_parser("list", help="stored tokens: id, group, uses left, expiry (never the token)")
    output.add_output_flags(p)
    add_hub_flags(p)
    p.set_defaults(func=cmd_token_list)
    p = token.add_parser("revoke", help="make an unused token unusable")
    p.add_argument("token_id", help="the token's id (`federation vm token list` shows it)")
    add_hub_flags(p)
    p.set_defaults(func=cmd_token_revoke)

    p = commands.add_parser("list", help="enrolled VMs")
    output.add_output_flags(p)
    add_hub_flags(p)
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("revoke", help="revoke a VM: its certificate is refused from now on")
    p.add_argument("name", help="the VM's name (`federation vm list` shows it)")
    add_hub_flags(p)
    p.set_defaults(func=cmd_revoke)


def _client(args):
    from federation.onboarding.client import VMAdminClient  # grpc only for commands that call the hub

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


_when = output.when


def token_dict(token, now: float) -> dict:
    state = ("revoked" if token.revoked else "expired" if now >= token.expires_unix
             else "used" if token.uses_left <= 0 else "valid")
    return {"token_id": token.token_id, "group": f"{token.group_namespace}/{token.group_name}",
            "uses_left": token.uses_left, "state": state, "created": _when(token.created_unix),
            "expires": _when(token.expires_unix)}


def format_tokens(rows: list[dict], wide: bool = False) -> str:
    return output.table(["TOKEN ID", "GROUP", "USES LEFT", "STATE", "EXPIRES"] + (["CREATED"] if wide else []),
                        [[r["token_id"], r["group"], r["uses_left"], r["state"], r["expires"]]
                         + ([r["created"]] if wide else []) for r in rows])


def cmd_token_list(args) -> int:
    with _client(args) as client:
        tokens = client.list_tokens()
    rows = [token_dict(t, time.time()) for t in tokens]
    print(output.render(output.chosen(args), rows, lambda wide: format_tokens(rows, wide)))
    return 0


def vm_dict(vm) -> dict:
    return {"name": vm.name, "group": f"{vm.group_namespace}/{vm.group_name}",
            "address": vm.address, "hostname": vm.hostname, "network": vm.network,
            "spiffe_id": vm.spiffe_id, "alive": vm.alive, "healthy": vm.healthy,
            "revoked": vm.revoked, "last_heartbeat": _when(vm.last_heartbeat_unix),
            "certificate_serial": vm.certificate_serial,
            "certificate_expiry": _when(vm.certificate_expiry_unix)}


def format_vms(vms, wide: bool = False) -> str:
    rows = []
    for vm in vms:
        state = ("revoked" if vm.revoked else "alive" if vm.alive and vm.healthy
                 else "unhealthy" if vm.alive else "down")
        rows.append([vm.name, f"{vm.group_namespace}/{vm.group_name}", vm.address, state,
                     _when(vm.certificate_expiry_unix)]
                    + ([vm.network, vm.hostname, _when(vm.last_heartbeat_unix), vm.spiffe_id] if wide else []))
    return output.table(["NAME", "GROUP", "ADDRESS", "STATE", "CERT EXPIRY"]
                        + (["NETWORK", "HOSTNAME", "LAST HEARTBEAT", "SPIFFE ID"] if wide else []), rows)


def cmd_list(args) -> int:
    with _client(args) as client:
        vms = client.list_vms()
    print(output.render(output.chosen(args), [vm_dict(v) for v in vms], lambda wide: format_vms(vms, wide)))
    return 0


def cmd_revoke(args) -> int:
    with _client(args) as client:
        client.revoke_vm(args.name)
    print(f"VM {args.name} revoked")
    return 0
