"""One sentence saying why a cluster is in its state (pure), for ``federation status``,
``federation check`` and the dashboard: unreachable and why, RBAC denied on which
verb and resource, CRDs missing, conflicts, owner lost, stale endpoints."""

from __future__ import annotations

import re
import time

# "cluster 'c': PATCH /apis/networking.istio.io/v1/namespaces/ns/workloadentries/x: 403 ..."
_CALL = re.compile(r"(?P<method>GET|POST|PUT|PATCH|DELETE|WATCH|LIST) (?P<path>/\S+?):? (?P<code>\d{3})\b")
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete",
          "WATCH": "watch", "LIST": "list"}


def resource_of(path: str) -> tuple[str, str]:
    """(resource.group, namespace) named by an API path; a name after it is dropped."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    group = ""
    if parts[:1] == ["api"]:
        parts = parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, parts = parts[1], parts[3:]
    namespace = ""
    if len(parts) >= 3 and parts[0] == "namespaces":
        namespace, parts = parts[1], parts[2:]
    resource = parts[0] if parts else "namespaces"
    return (f"{resource}.{group}" if group else resource), namespace


def denied(error: str) -> str:
    """"RBAC denies VERB RESOURCE (in NS)" for a 403 in ``error``, else ""."""
    for match in _CALL.finditer(error):
        if match["code"] == "403":
            resource, namespace = resource_of(match["path"])
            verb = _VERBS[match["method"]]
            if verb == "get" and not _names_object(match["path"]):
                verb = "list"
            return f"RBAC denies {verb} {resource}" + (f" in {namespace}" if namespace else "")
    return ""


def _names_object(path: str) -> bool:
    parts = [p for p in path.split("?")[0].split("/") if p]
    core = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if len(core) >= 3 and core[0] == "namespaces":
        core = core[2:]
    return len(core) >= 2


def missing_kind(error: str) -> str:
    for match in _CALL.finditer(error):
        if match["code"] == "404" and "/apis/" in match["path"] and "/namespaces/" not in match["path"]:
            resource, _ = resource_of(match["path"])
            return f"CRD missing: the cluster does not serve {resource}"
    if "could not find the requested resource" in error:
        return "CRD missing: the cluster does not serve a kind the hub writes"
    return ""


def explain(cluster) -> str:
    """The reason in words for a ``ClusterStatus`` (anything with its fields); "" when
    it is synced and nothing is wrong."""
    error = getattr(cluster, "error", "") or ""
    state = getattr(cluster, "state", "") or ""
    reasons: list[str] = []
    if state == "owner lost" or error.startswith("owner lost"):
        reasons.append(error.split(";")[0] if error.startswith("owner lost") else
                       "owner lost: the replica that pushed here is gone")
    if state in ("unreachable", "stale") or "unreachable" in error:
        why = _unreachable_cause(error)
        reasons.append(f"unreachable{': ' + why if why else ''}")
        if getattr(cluster, "stale", False) or state == "stale":
            reasons.append("keeping its last-known endpoints (stale)")
    for finder in (denied, missing_kind):
        found = finder(error)
        if found:
            reasons.append(found)
    conflicts = tuple(getattr(cluster, "conflicts", ()) or ())
    if conflicts:
        reasons.append(f"{len(conflicts)} conflict(s): {conflicts[0]}" + (" …" if len(conflicts) > 1 else ""))
    if state == "refused":
        reasons.append(error or "refused by the hub")
    elif state == "removing":
        reasons.append(error or "removal pending")
    reasons.extend(_gateway(cluster))
    if not reasons and error:
        reasons.append(error)
    if not reasons and state == "syncing":
        reasons.append("first sync in progress")
    elif not reasons and not getattr(cluster, "synced", True):
        reasons.append(f"not synced yet ({state or 'unknown state'})")
    return "; ".join(dict.fromkeys(r for r in reasons if r))


def _gateway(cluster) -> list[str]:
    """Gateway-aware failover's word on the cluster, if its gateway does not answer."""
    gateway = getattr(cluster, "gateway", "") or ""
    if gateway not in ("withdrawn", "unreachable"):
        return []
    since = getattr(cluster, "gateway_since", None)
    at = time.strftime(" since %Y-%m-%dT%H:%M:%SZ", time.gmtime(since)) if since else ""
    if gateway == "withdrawn":
        return [f"gateway withdrawn: its east-west gateway has not answered the hub's probes{at}; "
                "its endpoints are removed from the other clusters"]
    return [f"gateway unreachable: not answering the hub's probes{at}"]


_AT = re.compile(r"cluster '[^']*' at (?P<server>\S+?):? unreachable: (?P<why>.*)")
_PLAIN = {"NewConnectionError": "connection refused (or no route)",
          "ConnectTimeoutError": "connect timed out", "ReadTimeoutError": "read timed out",
          "MaxRetryError": "no answer", "ProtocolError": "connection dropped"}


def _unreachable_cause(error: str) -> str:
    for part in error.split(";"):
        part = part.strip()
        match = _AT.search(part)
        if match:
            why = match["why"].strip()
            return f"{_PLAIN.get(why, why)} at {match['server']}"
        if "unreachable" in part or "certificate verify failed" in part or "refused" in part:
            return part.split(": ", 1)[-1] if part.startswith("cluster '") else part
    return error.strip()


def error_reason(error: str) -> str:
    """A short label for a push error, for the ``reason`` attribute of metrics."""
    text = error.lower()
    if denied(error) or ": 403" in error:
        return "rbac-denied"
    if ": 401" in error or "credentials" in text:
        return "unauthorized"
    if missing_kind(error):
        return "crd-missing"
    if "unreachable" in text or "timed out" in text or ": 5" in error and _CALL.search(error):
        return "unreachable"
    if "conflict" in text or ": 409" in error:
        return "conflict"
    if ": 422" in error or ": 400" in error or "invalid" in text:
        return "invalid"
    if "fenced" in text:
        return "fenced"
    return "other" if error else "unknown"
