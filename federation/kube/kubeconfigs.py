"""A member cluster's kubeconfig: parsing it, and which of its options the hub accepts.

A member's kubeconfig arrives over the admin API: it is data, not configuration
of the hub. The hub must never run a program, read one of its own files, skip
verifying the API server or send its traffic through a proxy because a
kubeconfig says so (Istio's ``sanitizeKubeConfig`` refuses the same for remote
secrets, citing kubernetes/kubectl#697). Each such option is refused unless the
hub was started with ``--allow-kubeconfig-option NAME``; a refusal names the
entry and the field. Checked at registration and again before a stored record
is loaded, so a hub started with fewer options never acts on an older record.

``parse_kubeconfig`` checks the document's shape and these options;
``selected_cluster`` and ``ca_fingerprint`` read the cluster its context selects,
``static_credentials`` whether its user's credentials can change.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

import yaml

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


def parse_kubeconfig(text: str, source: str = "kubeconfig", allow=()) -> dict:
    """Parse and check a kubeconfig, refusing the options the hub does not
    ``allow`` (see ``check_kubeconfig``); ConfigError names what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise errors.ConfigError(f"{source}: not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict):
        raise errors.ConfigError(f"{source}: expected a kubeconfig mapping")
    for section in ("clusters", "contexts", "users"):
        if not isinstance(data.get(section), list) or not data[section]:
            raise errors.ConfigError(f"{source}: missing or empty '{section}'")
    if not data.get("current-context") and len(data["contexts"]) != 1:
        raise errors.ConfigError(f"{source}: no current-context set")
    check_kubeconfig(data, source, allow)
    return data


def _selected_context(kubeconfig: dict) -> tuple[str | None, dict | None]:
    """The current context's name and mapping (None when it is not there)."""
    contexts = [c for c in kubeconfig.get("contexts") or () if isinstance(c, dict)]
    name = kubeconfig.get("current-context") or (contexts[0].get("name") if contexts else None)
    context = next((c.get("context") or {} for c in contexts if c.get("name") == name), None)
    return name, context if isinstance(context, dict) else None


def selected_cluster(kubeconfig: dict, source: str = "kubeconfig") -> dict:
    """The ``cluster`` mapping the current context points at."""
    context_name, context = _selected_context(kubeconfig)
    if context is None:
        raise errors.ConfigError(f"{source}: context {context_name!r} not found")
    cluster = next((c.get("cluster") for c in kubeconfig["clusters"]
                    if isinstance(c, dict) and c.get("name") == context.get("cluster")), None)
    if not isinstance(cluster, dict):
        raise errors.ConfigError(f"{source}: cluster {context.get('cluster')!r} of context "
                                 f"{context_name!r} not found")
    return cluster


# The user options whose credentials change while the hub runs: a plugin's or a file's token.
REFRESHED_USER_OPTIONS = ("exec", "auth-provider", "tokenFile")


def static_credentials(kubeconfig: dict) -> bool:
    """Whether the current context's user has only credentials written in the
    kubeconfig itself (a token, client certificate data), which never change."""
    _, context = _selected_context(kubeconfig)
    user = None if context is None else next(
        (u.get("user") or {} for u in kubeconfig.get("users") or ()
         if isinstance(u, dict) and u.get("name") == context.get("user")), None)
    return isinstance(user, dict) and not any(key in user for key in REFRESHED_USER_OPTIONS)


def ca_fingerprint(kubeconfig: dict, source: str = "kubeconfig") -> str:
    """SHA-256 (hex) of the selected cluster's CA bundle, "" when it has none."""
    data = selected_cluster(kubeconfig, source).get("certificate-authority-data") or ""
    try:
        pem = base64.b64decode(data, validate=True) if data else b""
    except ValueError as exc:
        raise errors.ConfigError(f"{source}: certificate-authority-data is not base64") from exc
    return hashlib.sha256(pem.strip()).hexdigest() if pem else ""
