"""Which kubeconfig options the hub accepts for a member cluster.

A member's kubeconfig arrives over the admin API: it is data, not configuration
of the hub. The hub must never run a program, read one of its own files, skip
verifying the API server or send its traffic through a proxy because a
kubeconfig says so (Istio's ``sanitizeKubeConfig`` refuses the same for remote
secrets, citing kubernetes/kubectl#697). Each such option is refused unless the
hub was started with ``--allow-kubeconfig-option NAME``; a refusal names the
entry and the field. Checked at registration and again before a stored record
is loaded, so a hub started with fewer options never acts on an older record.
"""

from __future__ import annotations

from collections.abc import Iterable

from federation import errors

# option -> why it is refused (the field names are the kubeconfig's own)
USER_OPTIONS = {
    "exec": "an exec plugin runs a program on the hub",
    "auth-provider": "an auth-provider plugin runs programs or reads files on the hub",
    "tokenFile": "tokenFile makes the hub read one of its own files",
    "client-certificate": "a file path makes the hub read one of its own files; use client-certificate-data",
    "client-key": "a file path makes the hub read one of its own files; use client-key-data",
}
CLUSTER_OPTIONS = {
    "certificate-authority": "a file path makes the hub read one of its own files; "
                             "use certificate-authority-data",
    "insecure-skip-tls-verify": "it turns off verification of the API server's certificate",
    "proxy-url": "it sends the hub's requests and credentials through a proxy",
    "http": "a plain http:// server receives the credentials unencrypted",
}
OPTIONS = frozenset(USER_OPTIONS) | frozenset(CLUSTER_OPTIONS)


def parse_options(values: Iterable[str] | str) -> tuple[str, ...]:
    """``exec,tokenFile`` (or a list of such) as a sorted tuple; ConfigError names
    an unknown option."""
    if isinstance(values, str):
        values = [values]
    names = {n.strip() for v in values for n in v.split(",") if n.strip()}
    unknown = sorted(names - OPTIONS)
    if unknown:
        raise errors.ConfigError(f"kubeconfig option(s) {', '.join(unknown)}: unknown; expected "
                                 f"any of {', '.join(sorted(OPTIONS))}")
    return tuple(sorted(names))


def check_kubeconfig(data: dict, source: str, allowed: Iterable[str] = ()) -> None:
    """ConfigError naming the first entry and field the hub does not accept."""
    allowed = frozenset(allowed)
    for name, cluster in _entries(data, "clusters", "cluster", source):
        where = f"{source}: cluster entry {name!r}"
        server = cluster.get("server")
        if not isinstance(server, str) or not server:
            raise errors.ConfigError(f"{where}: missing server")
        if server.lower().startswith("http://"):
            _refuse(where, "server", "http", allowed)
        elif not server.lower().startswith("https://"):
            raise errors.ConfigError(f"{where}: server must be an https:// URL")
        for option in ("certificate-authority", "proxy-url"):
            if cluster.get(option):
                _refuse(where, option, option, allowed)
        if cluster.get("insecure-skip-tls-verify"):
            _refuse(where, "insecure-skip-tls-verify", "insecure-skip-tls-verify", allowed)
    for name, user in _entries(data, "users", "user", source):
        where = f"{source}: user entry {name!r}"
        for option in USER_OPTIONS:
            if user.get(option):
                _refuse(where, option, option, allowed)


def _refuse(where: str, field: str, option: str, allowed: frozenset[str]) -> None:
    if option in allowed:
        return
    why = USER_OPTIONS.get(option) or CLUSTER_OPTIONS[option]
    raise errors.ConfigError(f"{where}: {field} is not accepted ({why}); the hub allows it only "
                             f"when started with --allow-kubeconfig-option {option}")


def _entries(data: dict, section: str, body: str, source: str):
    for i, entry in enumerate(data.get(section) or ()):
        if not isinstance(entry, dict):
            raise errors.ConfigError(f"{source}: {section}[{i}] is not a mapping")
        name = entry.get("name", f"#{i}")
        value = entry.get(body) or {}
        if not isinstance(value, dict):
            raise errors.ConfigError(f"{source}: {section} entry {name!r}: {body} is not a mapping")
        yield name, value
