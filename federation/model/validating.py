"""Checks shared by the hub's resource kinds (FailoverPolicy, WorkloadGroup). Pure.

Each check appends ``"<field path>: <problem>"`` to a list, so a document's
every problem is reported at once.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def is_dns_label(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 63 and bool(DNS_LABEL.match(value))


def is_dns_subdomain(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(DNS_SUBDOMAIN.match(value))


def check_metadata(meta: Any, problems: list[str], name_is_label: bool = False) -> tuple[str, str]:
    """``metadata.name`` and ``metadata.namespace`` (default ``default``); returns
    (namespace, name), with "" for a missing or invalid one."""
    if not isinstance(meta, Mapping):
        problems.append("metadata: required")
        return "", ""
    name, namespace = meta.get("name"), meta.get("namespace", "default")
    valid_name = is_dns_label if name_is_label else is_dns_subdomain
    if not name:
        problems.append("metadata.name: required")
        name = ""
    elif not valid_name(name):
        kind = "label" if name_is_label else "subdomain"
        problems.append(f"metadata.name: {name!r} is not a DNS-1123 {kind}")
        name = ""
    if not is_dns_label(namespace):
        problems.append(f"metadata.namespace: {namespace!r} is not a DNS-1123 label")
        namespace = ""
    return namespace, name


def check_unknown(mapping: Mapping, known: tuple[str, ...], prefix: str, problems: list[str]) -> None:
    for key in mapping:
        if key not in known:
            problems.append(f"{prefix}{key}: unknown field (expected one of {', '.join(known)})")
